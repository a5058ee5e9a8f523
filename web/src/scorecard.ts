/**
 * Reads a scorecard (issue 4: scores 1-5 for rapport, discovery, objection handling, value
 * building and closing, each with a quoted line of evidence, plus objections and talk figures)
 * into rows the UI can show, whether dimensions come as an object or a list.
 */

export interface Dimension {
  key: string;
  label: string;
  score: number | null;
  evidence: string | null;
}

export interface ScorecardView {
  dimensions: Dimension[];
  overall: number | null;
  facts: [string, string][];
}

const DIMENSIONS = ["rapport", "discovery", "objection_handling", "value_building", "closing"];

export function labelOf(key: string): string {
  const text = key.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function scoreOf(value: unknown): { score: number | null; evidence: string | null } {
  if (typeof value === "number") return { score: value, evidence: null };
  if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    const score = typeof v.score === "number" ? v.score : null;
    const evidence = typeof v.evidence === "string" ? v.evidence : typeof v.quote === "string" ? v.quote : null;
    return { score, evidence };
  }
  return { score: null, evidence: null };
}

export function readScorecard(raw: unknown): ScorecardView | null {
  if (!raw || typeof raw !== "object") return null;
  const card = raw as Record<string, unknown>;
  const source = (card.scores ?? card.dimensions ?? card) as unknown;
  let dimensions: Dimension[] = [];
  if (Array.isArray(source)) {
    dimensions = source.map((item: Record<string, unknown>) => {
      const key = String(item.key ?? item.name ?? item.dimension ?? "score");
      return { key, label: labelOf(key), ...scoreOf(item) };
    });
  } else if (source && typeof source === "object") {
    const s = source as Record<string, unknown>;
    dimensions = DIMENSIONS.filter((k) => k in s).map((key) => ({ key, label: labelOf(key), ...scoreOf(s[key]) }));
  }
  const scores = dimensions.map((d) => d.score).filter((s): s is number => s !== null);
  const overall =
    typeof card.overall === "number" ? card.overall : scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
  const facts: [string, string][] = [];
  for (const [key, value] of Object.entries(card)) {
    if (["scores", "dimensions", "overall", ...DIMENSIONS].includes(key)) continue;
    if (typeof value === "number" || typeof value === "string") facts.push([labelOf(key), String(value)]);
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) facts.push([labelOf(key), value.join(", ")]);
    else if (Array.isArray(value)) facts.push([labelOf(key), String(value.length)]);
  }
  return { dimensions, overall, facts };
}
