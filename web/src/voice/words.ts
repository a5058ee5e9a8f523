/**
 * Word timings of reply audio (`audio.words`, protocol 1.1) against the playback clock: which
 * word is being spoken at a given ms of a message's audio, and the caption cut into words.
 */

import type { TimedWord } from "./protocol";

export type WordState = "spoken" | "current" | "upcoming";

/** Index of the word being spoken at `playedMs` (start <= t < end), or -1 between and outside words. */
export function wordAt(words: readonly TimedWord[], playedMs: number): number {
  let low = 0;
  let high = words.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const word = words[mid]!;
    if (playedMs < word.start_ms) high = mid - 1;
    else if (playedMs >= word.end_ms) low = mid + 1;
    else return mid;
  }
  return -1;
}

export function wordState(word: TimedWord, playedMs: number): WordState {
  if (playedMs >= word.end_ms) return "spoken";
  return playedMs >= word.start_ms ? "current" : "upcoming";
}

export type CaptionPart = { text: string; word?: TimedWord };

/**
 * The caption text cut into its timed words and what lies between them (spaces, text not timed
 * yet), so it renders exactly as written. Words are found in order; the first one not in the text
 * (a reply cut short by an interruption) ends the timed part.
 */
export function captionParts(text: string, words: readonly TimedWord[]): CaptionPart[] {
  const parts: CaptionPart[] = [];
  let at = 0;
  for (const word of words) {
    const found = text.indexOf(word.text, at);
    if (found < 0 || text.slice(at, found).trim() !== "") break;
    if (found > at) parts.push({ text: text.slice(at, found) });
    parts.push({ text: word.text, word });
    at = found + word.text.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}
