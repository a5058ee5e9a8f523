import { describe, expect, it } from "vitest";
import { estimateWords, MS_PER_CHAR, VISEMES, visemeAt, visemeTimeline, wordVisemes } from "./visemes";

describe("grapheme-to-viseme rules", () => {
  it("has a standard-sized set of mouth shapes", () => {
    expect(VISEMES.length).toBeGreaterThanOrEqual(9);
    expect(VISEMES.length).toBeLessThanOrEqual(12);
    expect(VISEMES[0]).toBe("sil");
  });

  it("maps the visible classes of common words", () => {
    expect(wordVisemes("payment")).toEqual(["PP", "EE", "PP", "EE", "DD"]);
    expect(wordVisemes("the")).toEqual(["TH", "EE"]);
    expect(wordVisemes("monthly")).toEqual(["PP", "OO", "DD", "TH", "DD", "EE"]);
    expect(wordVisemes("should")).toEqual(["CH", "AA", "OO", "DD"]);
    expect(wordVisemes("phone")).toEqual(["FF", "OO", "DD"]); // ph is f; the final e is silent
    expect(wordVisemes("price")).toEqual(["PP", "RR", "EE", "SS"]); // soft c
    expect(wordVisemes("quick")).toEqual(["KK", "OO", "EE", "KK"]);
    expect(wordVisemes("Wow!")).toEqual(["OO", "AA", "OO"]);
  });

  it("ignores punctuation and case, says digits, and gives nothing for no letters", () => {
    expect(wordVisemes("High,")).toEqual(wordVisemes("high"));
    expect(wordVisemes("42")).toEqual(["DD", "EE", "DD", "EE"].filter((v, i, a) => a[i - 1] !== v));
    expect(wordVisemes("—")).toEqual([]);
  });

  it("never repeats a shape back to back (a held shape is one span)", () => {
    for (const word of ["bubble", "coffee", "mississippi", "address"]) {
      const shapes = wordVisemes(word);
      shapes.forEach((v, i) => expect(v).not.toBe(shapes[i - 1]));
    }
  });
});

describe("viseme timeline", () => {
  const words = [
    { text: "Hi", start_ms: 100, end_ms: 300 },
    { text: "Bob", start_ms: 400, end_ms: 700 },
  ];
  const spans = visemeTimeline(words);

  it("fills each word's time with its shapes and rests between words", () => {
    expect(spans[0]!.start_ms).toBe(100);
    expect(spans.filter((s) => s.end_ms <= 300).at(-1)!.end_ms).toBeCloseTo(300);
    expect(spans.at(-1)!.end_ms).toBeCloseTo(700);
    expect(visemeAt(spans, 50)).toBe("sil");
    expect(visemeAt(spans, 350)).toBe("sil");
    expect(visemeAt(spans, 800)).toBe("sil");
    expect(visemeAt(spans, 420)).toBe("PP"); // the B of Bob
    expect(visemeAt(spans, 550)).toBe("OO");
    expect(visemeAt(spans, 690)).toBe("PP");
  });

  it("holds vowels longer than consonants", () => {
    const bob = spans.filter((s) => s.start_ms >= 400);
    const length = (s: { start_ms: number; end_ms: number }) => s.end_ms - s.start_ms;
    expect(length(bob[1]!)).toBeGreaterThan(length(bob[0]!));
  });
});

describe("timings without audio.words", () => {
  it("goes at a speaking pace before the audio's length is known", () => {
    const words = estimateWords("Hello there, friend.");
    expect(words.map((w) => w.text)).toEqual(["Hello", "there,", "friend."]);
    expect(words[0]).toEqual({ text: "Hello", start_ms: 0, end_ms: 5 * MS_PER_CHAR });
    for (let i = 1; i < words.length; i++) expect(words[i]!.start_ms).toBeGreaterThan(words[i - 1]!.end_ms);
  });

  it("stretches the words over the audio once its length is known", () => {
    const words = estimateWords("one two three", 2600);
    expect(words[0]!.start_ms).toBe(0);
    expect(words.at(-1)!.end_ms).toBe(2600);
    // Length-proportional: "three" (5 letters) lasts longer than "one" (3).
    expect(words[2]!.end_ms - words[2]!.start_ms).toBeGreaterThan(words[0]!.end_ms - words[0]!.start_ms);
  });

  it("has no words for text without letters", () => {
    expect(estimateWords("  … ")).toEqual([]);
  });
});
