/**
 * Mouth shapes from words: a small grapheme-to-viseme rule set (English spelling is a poor
 * phoneme guide, but lips only need the visible class of each sound), and a reply's timeline of
 * mouth shapes from its word timings (`audio.words`), or from its text and audio length when the
 * server sends no timings (an older server, or a voice that does not time its words).
 */

import type { TimedWord } from "../voice/protocol";

/**
 * Twelve visible mouth classes (after the Oculus/MPEG-4 sets, with the look-alikes merged):
 * rest, lips pressed (p b m), lip on teeth (f v), tongue on teeth (th), tongue up (t d n l),
 * back (k g ng), rounded forward (ch j sh), teeth together (s z), r, open (a), spread (e i y),
 * rounded (o u w).
 */
export const VISEMES = ["sil", "PP", "FF", "TH", "DD", "KK", "CH", "SS", "RR", "AA", "EE", "OO"] as const;
export type Viseme = (typeof VISEMES)[number];

/** Multi-letter spellings first (longest match wins), then single letters. */
const DIGRAPHS: ReadonlyArray<readonly [string, readonly Viseme[]]> = [
  ["tch", ["CH"]], ["sch", ["SS", "KK"]], ["igh", ["AA", "EE"]], ["ough", ["OO"]],
  ["ch", ["CH"]], ["sh", ["CH"]], ["th", ["TH"]], ["ph", ["FF"]], ["wh", ["OO"]], ["ck", ["KK"]],
  ["ng", ["KK"]], ["qu", ["KK", "OO"]], ["gh", []], ["kn", ["DD"]], ["wr", ["RR"]],
  ["ee", ["EE"]], ["ea", ["EE"]], ["ie", ["EE"]], ["ei", ["EE"]], ["ai", ["EE"]], ["ay", ["EE"]], ["ey", ["EE"]],
  ["oo", ["OO"]], ["ou", ["AA", "OO"]], ["ow", ["AA", "OO"]], ["oa", ["OO"]], ["oi", ["OO", "EE"]], ["oy", ["OO", "EE"]],
  ["au", ["AA"]], ["aw", ["AA"]], ["ue", ["OO"]], ["ew", ["OO"]],
];

const LETTERS: Readonly<Record<string, readonly Viseme[]>> = {
  a: ["AA"], e: ["EE"], i: ["EE"], o: ["OO"], u: ["OO"], y: ["EE"],
  b: ["PP"], m: ["PP"], p: ["PP"], f: ["FF"], v: ["FF"],
  t: ["DD"], d: ["DD"], n: ["DD"], l: ["DD"],
  k: ["KK"], g: ["KK"], q: ["KK"], c: ["KK"], x: ["KK", "SS"], h: [],
  s: ["SS"], z: ["SS"], j: ["CH"], r: ["RR"], w: ["OO"],
};

/** Digits are said as words: the shape of a short syllable stands in for each. */
const DIGIT: readonly Viseme[] = ["DD", "EE"];

const VOWELS: ReadonlySet<Viseme> = new Set(["AA", "EE", "OO"]);

/** The mouth shapes of one written word, in order, repeats merged. */
export function wordVisemes(word: string): Viseme[] {
  const w = word.toLowerCase().normalize("NFD").replace(/[^a-z0-9]/g, "");
  const out: Viseme[] = [];
  const push = (vs: readonly Viseme[]) => {
    for (const v of vs) if (out.at(-1) !== v) out.push(v);
  };
  let i = 0;
  while (i < w.length) {
    const ch = w[i]!;
    if (ch >= "0" && ch <= "9") {
      push(DIGIT);
      i += 1;
      continue;
    }
    // A final silent e ("make", "price") adds no shape; "be", "the" (no other vowel) keep theirs.
    if (ch === "e" && i === w.length - 1 && /[aeiouy]/.test(w.slice(0, i - 1))) break;
    // c and g soften before e, i, y ("price", "page").
    if ((ch === "c" || ch === "g") && "eiy".includes(w[i + 1] ?? "")) {
      push(ch === "c" ? ["SS"] : ["CH"]);
      i += 1;
      continue;
    }
    const digraph = DIGRAPHS.find(([spelling]) => w.startsWith(spelling, i));
    if (digraph) {
      push(digraph[1]);
      i += digraph[0].length;
      continue;
    }
    push(LETTERS[ch] ?? []);
    i += 1;
  }
  return out;
}

export interface VisemeSpan {
  viseme: Viseme;
  start_ms: number;
  end_ms: number;
}

/** A vowel is held longer than a consonant; lip closures are quick. */
function weight(v: Viseme): number {
  if (VOWELS.has(v)) return 1.6;
  return v === "PP" ? 0.8 : 1;
}

/**
 * The timeline of mouth shapes over a message's audio (ms from its start): each word's shapes
 * share the word's time by weight; between words the mouth rests (no span).
 */
export function visemeTimeline(words: readonly TimedWord[]): VisemeSpan[] {
  const spans: VisemeSpan[] = [];
  for (const word of words) {
    const shapes = wordVisemes(word.text);
    const duration = word.end_ms - word.start_ms;
    if (shapes.length === 0 || duration <= 0) continue;
    const total = shapes.reduce((sum, v) => sum + weight(v), 0);
    let at = word.start_ms;
    for (const v of shapes) {
      const end = at + (duration * weight(v)) / total;
      spans.push({ viseme: v, start_ms: at, end_ms: end });
      at = end;
    }
  }
  return spans;
}

/** The shape at `ms` of the message's audio ("sil" between and outside words). */
export function visemeAt(spans: readonly VisemeSpan[], ms: number): Viseme {
  let low = 0;
  let high = spans.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const span = spans[mid]!;
    if (ms < span.start_ms) high = mid - 1;
    else if (ms >= span.end_ms) low = mid + 1;
    else return span.viseme;
  }
  return "sil";
}

/** Speaking pace used when only the text is known: ~15 characters a second (about 160 words a minute). */
export const MS_PER_CHAR = 66;
const GAP_CHARS = 1; // the space between two words, as silence

/**
 * Word timings from the text alone (no `audio.words`): each word lasts in proportion to its
 * length, a space between words is a short rest. With the audio's length known (`audio.end`),
 * the words are stretched to fill it exactly; before that, they go at `MS_PER_CHAR`.
 */
export function estimateWords(text: string, audioMs?: number): TimedWord[] {
  const words = text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return [];
  const chars = words.reduce((sum, w) => sum + w.length, 0) + GAP_CHARS * (words.length - 1);
  const perChar = audioMs !== undefined && audioMs > 0 ? audioMs / chars : MS_PER_CHAR;
  const out: TimedWord[] = [];
  let at = 0;
  for (const text of words) {
    const end = at + text.length * perChar;
    out.push({ text, start_ms: Math.round(at), end_ms: Math.round(end) });
    at = end + GAP_CHARS * perChar;
  }
  return out;
}
