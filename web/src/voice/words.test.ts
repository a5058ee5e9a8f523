import { describe, expect, it } from "vitest";
import type { TimedWord } from "./protocol";
import { captionParts, wordAt, wordState } from "./words";

const words: TimedWord[] = [
  { text: "It", start_ms: 0, end_ms: 150 },
  { text: "is", start_ms: 180, end_ms: 300 },
  { text: "fair.", start_ms: 320, end_ms: 700 },
  { text: "The", start_ms: 1000, end_ms: 1200 },
];

describe("word at the playback position", () => {
  it("finds the word being spoken, none in the gaps", () => {
    expect(wordAt(words, 0)).toBe(0);
    expect(wordAt(words, 149)).toBe(0);
    expect(wordAt(words, 150)).toBe(-1); // the pause between "It" and "is"
    expect(wordAt(words, 180)).toBe(1);
    expect(wordAt(words, 699)).toBe(2);
    expect(wordAt(words, 800)).toBe(-1); // between sentences
    expect(wordAt(words, 1100)).toBe(3);
    expect(wordAt(words, 5000)).toBe(-1);
    expect(wordAt([], 10)).toBe(-1);
  });

  it("says which words are spoken, current and upcoming", () => {
    expect(words.map((w) => wordState(w, 200))).toEqual(["spoken", "current", "upcoming", "upcoming"]);
    expect(words.map((w) => wordState(w, 1200))).toEqual(["spoken", "spoken", "spoken", "spoken"]);
  });
});

describe("caption parts", () => {
  it("keeps the text as written and marks each timed word", () => {
    const parts = captionParts("It is fair.  The car is old.", words);
    expect(parts.map((p) => p.text).join("")).toBe("It is fair.  The car is old.");
    expect(parts.filter((p) => p.word).map((p) => p.text)).toEqual(["It", "is", "fair.", "The"]);
    expect(parts.at(-1)).toEqual({ text: " car is old." }); // not timed yet
  });

  it("stops at a word the text no longer holds (a reply cut short)", () => {
    const parts = captionParts("It is", words);
    expect(parts).toEqual([{ text: "It", word: words[0] }, { text: " " }, { text: "is", word: words[1] }]);
  });
});
