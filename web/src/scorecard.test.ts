import { describe, expect, it } from "vitest";
import { readScorecard } from "./scorecard";

describe("readScorecard", () => {
  it("reads dimensions given as an object with evidence, and averages them", () => {
    const view = readScorecard({
      scores: { rapport: { score: 4, evidence: "Great to meet you" }, closing: { score: 2, evidence: "So…" } },
      talk_ratio: 0.6,
      objections_raised: ["price", "trade_in"],
    })!;
    expect(view.dimensions.map((d) => [d.label, d.score, d.evidence])).toEqual([
      ["Rapport", 4, "Great to meet you"],
      ["Closing", 2, "So…"],
    ]);
    expect(view.overall).toBe(3);
    expect(view.facts).toContainEqual(["Talk ratio", "0.6"]);
    expect(view.facts).toContainEqual(["Objections raised", "price, trade_in"]);
  });

  it("reads dimensions given as a list", () => {
    const view = readScorecard({ dimensions: [{ name: "discovery", score: 5, quote: "What brings you in?" }] })!;
    expect(view.dimensions[0]).toEqual({ key: "discovery", label: "Discovery", score: 5, evidence: "What brings you in?" });
  });

  it("returns null for no scorecard", () => {
    expect(readScorecard(null)).toBeNull();
  });
});
