/**
 * Turns a scorecard (`ScorecardOut`: role-play scores 1-5 per dimension, each with a line the
 * salesperson said as evidence, plus objections and talk figures) into rows the UI shows.
 */
import type { Scorecard } from "./api/types";
import { objectionLabel } from "./objections";

export interface Dimension {
  key: string;
  label: string;
  score: number;
  evidence: string;
}

export interface ScorecardView {
  dimensions: Dimension[];
  overall: number | null;
  summary: string;
  facts: [string, string][];
}

export function labelOf(key: string): string {
  const text = key.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function numberIn(record: Record<string, unknown> | null, key: string): number | null {
  const value = record?.[key];
  return typeof value === "number" ? value : null;
}

export function readScorecard(card: Scorecard): ScorecardView {
  const facts: [string, string][] = [["Turns", String(card.turns)]];
  if (card.talk_ratio !== null) facts.push(["You talked", `${Math.round(card.talk_ratio * 100)}% of the words`]);
  if (card.words_per_minute !== null) facts.push(["Words per minute", String(card.words_per_minute)]);
  // The server describes these two as open objects: {count, per_100_words} and {words, message_id}.
  const fillers = numberIn(card.filler_words, "count");
  if (fillers !== null) facts.push(["Filler words", String(fillers)]);
  const monologue = numberIn(card.longest_monologue, "words");
  if (monologue !== null) facts.push(["Longest turn", `${monologue} words`]);
  for (const [kind, objections] of Object.entries(card.objections)) {
    if (objections.length > 0) facts.push([`Objections ${kind}`, objections.map(objectionLabel).join(", ")]);
  }
  facts.push(["Scored by", card.generated_by === "llm" ? "the model" : "offline rules"]);
  return {
    dimensions: card.scores.map((s) => ({ key: s.dimension, label: labelOf(s.dimension), score: s.score, evidence: s.evidence })),
    overall: card.overall,
    summary: card.summary,
    facts,
  };
}
