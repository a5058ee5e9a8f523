/**
 * Small rules the scenario and rubric editors share with the server (server/training/spec.py):
 * keys are lower-case slugs, unique within a rubric or a scenario's hidden facts; scales and their
 * ranges; the rubric a session without a scenario is judged under.
 */
import type { Criterion, Difficulty, HiddenFact, Scale } from "./api/types";

export const GENERAL_RUBRIC_ID = "general-sales";

export const SCALE_LABEL: Record<Scale, string> = { binary: "Yes / no", "0-3": "0 to 3", "1-5": "1 to 5" };
export const DIFFICULTY_LABEL: Record<Difficulty, string> = { easy: "Easy", medium: "Medium", hard: "Hard" };

const KEY = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A key from a label: "Current payment ($)" -> "current_payment". */
export function keyFrom(label: string): string {
  return label
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 64);
}

/** Fills blank keys from labels and makes repeated ones unique (`payment`, `payment_2`). */
export function withKeys<T extends { key: string; label: string }>(items: T[]): T[] {
  const used = new Set<string>();
  return items.map((item, i) => {
    const base = item.key.trim() || keyFrom(item.label) || `item_${i + 1}`;
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}_${n}`.slice(0, 64);
    used.add(key);
    return { ...item, key };
  });
}

/** Why a rubric's criteria would be refused, in words, or [] when they are fine. */
export function criteriaProblems(criteria: Criterion[]): string[] {
  const problems: string[] = [];
  if (criteria.length === 0) problems.push("Add at least one criterion.");
  if (criteria.length > 20) problems.push("A rubric has at most 20 criteria.");
  const seen = new Set<string>();
  criteria.forEach((c, i) => {
    const name = c.label.trim() || `Criterion ${i + 1}`;
    if (!c.label.trim()) problems.push(`${name} needs a label.`);
    if (c.key && !KEY.test(c.key)) problems.push(`${name}: the key may use only a-z, 0-9, "_" and "-".`);
    if (c.key && seen.has(c.key)) problems.push(`${name}: the key "${c.key}" is used twice.`);
    seen.add(c.key);
    if (!(c.weight > 0 && c.weight <= 100)) problems.push(`${name}: the weight must be above 0 and at most 100.`);
  });
  return problems;
}

export function blankFact(): HiddenFact {
  return { key: "", label: "", value: "" };
}

export function blankCriterion(): Criterion {
  return { key: "", label: "", description: "", weight: 1, scale: "1-5" };
}
