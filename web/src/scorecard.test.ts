import { describe, expect, it } from "vitest";
import type { Scorecard } from "./api/types";
import { readScorecard } from "./scorecard";

// The shape server/conversation/scorecard.py builds for a role-play (ScorecardOut).
const roleplay: Scorecard = {
  session_id: "7d0f4a52-0c1e-4d6b-9d7e-1f1b2b1c3c4d",
  mode: "roleplay",
  persona_id: "sam-price",
  generated_by: "offline",
  overall: 3.4,
  scores: [
    { dimension: "rapport", score: 4, evidence: "Great to meet you", message_id: null },
    { dimension: "objection_handling", score: 2, evidence: "So…", message_id: "a3c1" },
  ],
  objections: { raised: ["price", "trade_in"], resolved: ["price"], unresolved: ["trade_in"] },
  talk_ratio: 0.612,
  talk_words: { salesperson: 60, customer: 38 },
  longest_monologue: { words: 31, message_id: "a3c1" },
  words_per_minute: 142.5,
  filler_words: { count: 3, per_100_words: 5 },
  summary: "Strong rapport; the trade-in was left open.",
  turns: 6,
};

describe("readScorecard", () => {
  it("lists the scored dimensions with their evidence and keeps the server's overall", () => {
    const view = readScorecard(roleplay);
    expect(view.dimensions.map((d) => [d.label, d.score, d.evidence])).toEqual([
      ["Rapport", 4, "Great to meet you"],
      ["Objection handling", 2, "So…"],
    ]);
    expect(view.overall).toBe(3.4);
    expect(view.summary).toBe("Strong rapport; the trade-in was left open.");
  });

  it("describes the talk figures and objections", () => {
    const facts = readScorecard(roleplay).facts;
    expect(facts).toContainEqual(["You talked", "61% of the words"]);
    expect(facts).toContainEqual(["Filler words", "3"]);
    expect(facts).toContainEqual(["Longest turn", "31 words"]);
    expect(facts).toContainEqual(["Objections raised", "Price, Trade-in value"]);
    expect(facts).toContainEqual(["Objections unresolved", "Trade-in value"]);
    expect(facts).toContainEqual(["Scored by", "offline rules"]);
  });

  it("reads a training scorecard, which has no scores and no figures it cannot know", () => {
    const view = readScorecard({
      ...roleplay, mode: "training", scores: [], overall: null, summary: "", talk_ratio: null,
      words_per_minute: null, filler_words: null, longest_monologue: null,
      objections: { raised: [], resolved: [], unresolved: [] },
    });
    expect(view.dimensions).toEqual([]);
    expect(view.overall).toBeNull();
    expect(view.facts).toEqual([["Turns", "6"], ["Scored by", "offline rules"]]);
  });
});
