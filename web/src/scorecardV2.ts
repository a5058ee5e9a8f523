/**
 * Reads a version 2 scorecard (a scenario's rubric: each criterion with score/max, a reason and
 * the trainee's own words as evidence; the hidden facts uncovered; goal; pass or fail) into what
 * the review shows, and places evidence quotes in the transcript. Version 1 cards (sessions from
 * before scenarios) are read by `scorecard.ts`; `isV2` tells them apart.
 */
import type { AnyScorecard, ScorecardV2 } from "./api/types";
import { objectionLabel } from "./objections";

/** The transcript as far as the scorecard needs it: message ids in order, who said each, the text. */
export interface TranscriptMessage {
  id: string;
  role: string;
  text?: string;
}

export interface EvidenceLink {
  messageId: string;
  quote: string;
  /** 1-based trainee turn of the quoted message; null when the transcript is not at hand or lacks it. */
  turn: number | null;
  /** The link target on the session's review page. */
  hash: string;
}

export interface CriterionRow {
  key: string;
  label: string;
  score: number;
  max: number;
  /** Position on the scale, 0-1 (a "1-5" criterion starts at 1, so 1/5 is 0). */
  fraction: number;
  reason: string;
  evidence: EvidenceLink[];
}

export interface FactRow {
  key: string;
  label: string;
  uncovered: boolean;
  messageId: string | null;
  turn: number | null;
  /** "Uncovered in turn 3", "Uncovered", "Not uncovered". */
  status: string;
}

export interface ScorecardV2View {
  /** 0-100; null when nothing was scored (a training session, or one ended before any turn). */
  overall: number | null;
  passMark: number | null;
  /** true passed, false failed, null not judged against a pass mark (no scenario). */
  passed: boolean | null;
  verdict: string | null;
  /** Why a card at or above the pass mark did not pass: the server also requires the goal met. */
  verdictReason: string | null;
  rubricName: string | null;
  criteria: CriterionRow[];
  facts: FactRow[];
  /** "2 of 3 facts uncovered"; null when the scenario had no hidden facts. */
  factsSummary: string | null;
  goal: string | null;
  summary: string;
  figures: [string, string][];
}

export interface ScorecardContext {
  messages?: readonly TranscriptMessage[];
  /** The scenario's pass mark when the card does not carry it (it is in the session's frozen copy). */
  passScore?: number | null;
  rubricName?: string | null;
}

export function isV2(card: AnyScorecard): card is ScorecardV2 {
  return (card as { version?: unknown }).version === 2;
}

export const MESSAGE_ANCHOR = "message-";

export function messageAnchor(messageId: string): string {
  return MESSAGE_ANCHOR + messageId;
}

/** The message id a review page address points at (`#message-<id>`), or null. */
export function messageIdFromHash(hash: string): string | null {
  const anchor = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!anchor.startsWith(MESSAGE_ANCHOR)) return null;
  const id = decodeURIComponent(anchor.slice(MESSAGE_ANCHOR.length));
  return id || null;
}

/** For each trainee message, its 1-based turn; for any message, the trainee turns before or at it. */
function turnIndex(messages: readonly TranscriptMessage[]): Map<string, number> {
  const turns = new Map<string, number>();
  let turn = 0;
  for (const message of messages) {
    if (message.role === "user") turn += 1;
    turns.set(message.id, turn);
  }
  return turns;
}

function numberIn(record: Record<string, unknown> | null, key: string): number | null {
  const value = record?.[key];
  return typeof value === "number" ? value : null;
}

function figuresOf(card: ScorecardV2): [string, string][] {
  const figures: [string, string][] = [];
  if (typeof card.turns === "number") figures.push(["Turns", String(card.turns)]);
  if (typeof card.talk_ratio === "number") figures.push(["You talked", `${Math.round(card.talk_ratio * 100)}% of the words`]);
  if (typeof card.words_per_minute === "number") figures.push(["Words per minute", String(card.words_per_minute)]);
  const fillers = numberIn(card.filler_words, "count");
  if (fillers !== null) figures.push(["Filler words", String(fillers)]);
  if (typeof card.backchannels === "number") figures.push(["Backchannels", `${card.backchannels} ("uh-huh" while the customer spoke)`]);
  const monologue = numberIn(card.longest_monologue, "words");
  if (monologue !== null) figures.push(["Longest turn", `${monologue} words`]);
  for (const [kind, list] of Object.entries(card.objections ?? {})) {
    if (list.length > 0) figures.push([`Objections ${kind}`, list.map(objectionLabel).join(", ")]);
  }
  if (card.generated_by) figures.push(["Scored by", card.generated_by === "offline" ? "offline rules" : "the model"]);
  return figures;
}

/** The lowest point of a criterion's scale: 1 on a "1-5" scale (the bottom there), else 0. */
export function scaleLow(criterion: { max: number }): number {
  return criterion.max === 5 ? 1 : 0;
}

export function readScorecardV2(card: ScorecardV2, context: ScorecardContext = {}): ScorecardV2View {
  const turns = context.messages ? turnIndex(context.messages) : new Map<string, number>();
  const criteria: CriterionRow[] = card.criteria.map((c) => {
    const low = scaleLow(c);
    const fraction = c.max > low ? Math.min(Math.max((c.score - low) / (c.max - low), 0), 1) : 0;
    return {
      key: c.key,
      label: c.label,
      score: c.score,
      max: c.max,
      fraction,
      reason: c.reason,
      evidence: c.evidence.map((e) => ({
        messageId: e.message_id,
        quote: e.quote,
        turn: turns.get(e.message_id) ?? null,
        hash: `#${messageAnchor(e.message_id)}`,
      })),
    };
  });
  const facts: FactRow[] = card.facts.map((f) => {
    const messageId = f.message_id ?? null;
    // The server's `turn` is the trainee turn the reveal answered; count it from the transcript otherwise.
    const turn = f.turn ?? (f.uncovered && messageId ? (turns.get(messageId) ?? null) : null);
    const status = !f.uncovered ? "Not uncovered" : turn ? `Uncovered in turn ${turn}` : "Uncovered";
    return { key: f.key, label: f.label, uncovered: f.uncovered, messageId, turn, status };
  });
  const passMark = card.pass_score ?? context.passScore ?? null;
  const passed = typeof card.passed === "boolean" ? card.passed : null;
  const uncovered = facts.filter((f) => f.uncovered).length;
  return {
    overall: card.overall,
    passMark,
    passed,
    verdict: passed === null ? null : passed ? "Passed" : "Not passed",
    verdictReason:
      passed === false && card.overall !== null && passMark !== null && card.overall >= passMark && card.goal_met === false
        ? "the score reached the pass mark, but the goal was not met"
        : null,
    rubricName: card.rubric_name ?? context.rubricName ?? null,
    criteria,
    facts,
    factsSummary: facts.length ? `${uncovered} of ${facts.length} facts uncovered` : null,
    goal: card.goal_met === true ? "Goal met" : card.goal_met === false ? "Goal not met" : null,
    summary: card.summary,
    figures: figuresOf(card),
  };
}

export interface TextPart {
  text: string;
  mark: boolean;
}

/**
 * Splits a message's text around a quote so the quote can be marked. Quotes are verbatim (the
 * server drops any that are not), so an exact match is tried first; a match that differs only in
 * case or runs of spaces still marks, and no match leaves the text whole.
 */
export function markQuote(text: string, quote: string): TextPart[] {
  const needle = quote.trim();
  if (!needle) return [{ text, mark: false }];
  let start = text.indexOf(needle);
  let length = needle.length;
  if (start < 0) {
    const pattern = needle
      .split(/\s+/)
      .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("\\s+");
    const match = new RegExp(pattern, "i").exec(text);
    if (!match) return [{ text, mark: false }];
    start = match.index;
    length = match[0].length;
  }
  const parts: TextPart[] = [];
  if (start > 0) parts.push({ text: text.slice(0, start), mark: false });
  parts.push({ text: text.slice(start, start + length), mark: true });
  if (start + length < text.length) parts.push({ text: text.slice(start + length), mark: false });
  return parts;
}
