/**
 * The built-in avatar's looks (persona `avatar_look`, a contract with `server/avatar/looks.py`)
 * and its demeanour (from the persona's difficulty and personality). Only data here: the picker
 * on the persona page imports the ids and labels without pulling in the drawing.
 */

import type { Persona } from "../api/types";

export const LOOK_IDS = [
  "woman-young-casual",
  "woman-middle-business",
  "woman-senior-classic",
  "man-young-casual",
  "man-middle-business",
  "man-senior-classic",
  "man-middle-workwear",
  "woman-young-sporty",
] as const;
export type LookId = (typeof LOOK_IDS)[number];

// The ids are the server's (`server/avatar/looks.py`, generated into the REST types): a look added
// or renamed on either side fails the typecheck here.
type ServerLook = NonNullable<Persona["avatar_look"]>;
const sameLooks: [LookId] extends [ServerLook] ? ([ServerLook] extends [LookId] ? true : never) : never = true;
void sameLooks;

export const LOOK_LABELS: Record<LookId, string> = {
  "woman-young-casual": "Young woman, casual",
  "woman-middle-business": "Woman in her forties, business",
  "woman-senior-classic": "Older woman, classic",
  "man-young-casual": "Young man, casual",
  "man-middle-business": "Man in his forties, business",
  "man-senior-classic": "Older man, classic",
  "man-middle-workwear": "Man in his forties, workwear",
  "woman-young-sporty": "Young woman, sporty",
};

export function isLook(value: unknown): value is LookId {
  return typeof value === "string" && (LOOK_IDS as readonly string[]).includes(value);
}

/** Adam, the trainer, when the server names no look. */
export const TRAINER_LOOK: LookId = "man-middle-business";

export type Demeanour = "friendly" | "neutral" | "sceptical" | "impatient";

const CUES: ReadonlyArray<readonly [Demeanour, RegExp]> = [
  ["sceptical", /\b(scep|skep|suspicious|distrust|doubt|cynic|wary|not convinced|guarded)/i],
  ["impatient", /\b(impatient|rushed|in a hurry|short on time|busy|irritab|annoyed|angry|frustrat|blunt|demanding|aggressive|pushy)/i],
  ["friendly", /\b(friendly|warm|cheerful|easy-?going|relaxed|chatty|enthusias|excited|polite|open)/i],
];

/**
 * How the face carries itself: the persona's own words first (a "sceptical" customer looks
 * sceptical whatever the difficulty), else its difficulty (an easy customer is friendly, a hard
 * one guarded). The trainer is friendly.
 */
export function demeanourOf(persona: { kind?: string; difficulty?: string; personality?: string; summary?: string } | undefined): Demeanour {
  if (!persona || persona.kind === "trainer") return "friendly";
  const words = `${persona.personality ?? ""} ${persona.summary ?? ""}`;
  for (const [demeanour, cue] of CUES) if (cue.test(words)) return demeanour;
  return persona.difficulty === "easy" ? "friendly" : persona.difficulty === "hard" ? "sceptical" : "neutral";
}
