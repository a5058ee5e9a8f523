import { describe, expect, it } from "vitest";
import type { Scorecard, ScorecardV2 } from "./api/types";
import { isV2, markQuote, messageAnchor, messageIdFromHash, readScorecardV2 } from "./scorecardV2";

// A needs-analysis scenario's card as POST /sessions/{id}/end returns it (server/training/spec.py).
const card: ScorecardV2 = {
  version: 2,
  session_id: "s1",
  mode: "roleplay",
  persona_id: "maria",
  scenario_id: "sc-1",
  scenario_title: "Maria's RAV4",
  rubric_id: "needs-analysis",
  rubric_name: "Needs analysis",
  overall: 72,
  passed: true,
  pass_score: 70,
  legacy_overall: null,
  scores: [],
  objections: { raised: ["monthly_payment"], resolved: [] },
  talk_words: { salesperson: 55, customer: 45 },
  words_per_minute: null,
  longest_monologue: null,
  criteria: [
    {
      key: "discover", label: "Asks about needs", score: 3, max: 3, reason: "Asked about payment and usage.",
      evidence: [
        { message_id: "u2", quote: "what do you pay a month" },
        { message_id: "u3", quote: "How do you use the car" },
      ],
    },
    { key: "close", label: "Asks for the sale", score: 0, max: 1, reason: "Never asked.", evidence: [] },
    { key: "rapport", label: "Rapport", score: 1, max: 5, reason: "Cold opening.", evidence: [] },
  ],
  facts: [
    { key: "payment", label: "Current payment", uncovered: true, message_id: "a2", turn: null },
    { key: "commute", label: "Commute", uncovered: true, message_id: "a3", turn: 3 },
    { key: "spouse", label: "Spouse decides", uncovered: false, message_id: null, turn: null },
  ],
  goal_met: false,
  summary: "Good discovery, no close.",
  talk_ratio: 0.55,
  generated_by: "offline",
  turns: 3,
  filler_words: { count: 2, per_100_words: 1.5 },
  backchannels: 3,
};

const transcript = [
  { id: "a0", role: "assistant", text: "Hi." },
  { id: "u1", role: "user", text: "Welcome in!" },
  { id: "a1", role: "assistant", text: "Thanks." },
  { id: "u2", role: "user", text: "So, what do you pay a month right now?" },
  { id: "a2", role: "assistant", text: "About $389." },
  { id: "u3", role: "user", text: "How do you use the car?" },
  { id: "a3", role: "assistant", text: "Long commute." },
];

describe("isV2", () => {
  it("tells a version 2 card from today's", () => {
    expect(isV2(card)).toBe(true);
    const { version: _version, criteria: _c, facts: _f, goal_met: _g, legacy_overall: _l, pass_score: _p, passed: _pd,
      rubric_id: _r, rubric_name: _rn, scenario_id: _s, scenario_title: _st, ...rest } = card;
    const v1: Scorecard = { ...rest, overall: 3.4 };
    expect(isV2(v1)).toBe(false);
  });
});

describe("readScorecardV2", () => {
  it("shows each criterion as score out of its scale's max with its reason", () => {
    const view = readScorecardV2(card, { messages: transcript });
    expect(view.criteria.map((c) => [c.label, `${c.score} / ${c.max}`, c.reason])).toEqual([
      ["Asks about needs", "3 / 3", "Asked about payment and usage."],
      ["Asks for the sale", "0 / 1", "Never asked."],
      ["Rapport", "1 / 5", "Cold opening."],
    ]);
    // A 1 on a 1-5 scale is its bottom, like a 0 on the others.
    expect(view.criteria.map((c) => c.fraction)).toEqual([1, 0, 0]);
  });

  it("links each quote to its message, with the trainee turn it came from", () => {
    const evidence = readScorecardV2(card, { messages: transcript }).criteria[0]?.evidence;
    expect(evidence).toEqual([
      { messageId: "u2", quote: "what do you pay a month", turn: 2, hash: "#message-u2" },
      { messageId: "u3", quote: "How do you use the car", turn: 3, hash: "#message-u3" },
    ]);
    // Without the transcript (just after ending) the link stays, the turn is unknown.
    expect(readScorecardV2(card).criteria[0]?.evidence[0]?.turn).toBeNull();
  });

  it("says which facts were uncovered in which turn, counting it from the transcript when the card lacks it", () => {
    const view = readScorecardV2(card, { messages: transcript });
    expect(view.facts.map((f) => [f.label, f.status])).toEqual([
      ["Current payment", "Uncovered in turn 2"],
      ["Commute", "Uncovered in turn 3"],
      ["Spouse decides", "Not uncovered"],
    ]);
    expect(view.factsSummary).toBe("2 of 3 facts uncovered");
    expect(readScorecardV2(card).facts[0]?.status).toBe("Uncovered");
  });

  it("gives pass or fail against the pass mark, and the goal", () => {
    const view = readScorecardV2(card);
    expect([view.overall, view.passMark, view.verdict, view.goal]).toEqual([72, 70, "Passed", "Goal not met"]);
    const failed = readScorecardV2({ ...card, passed: false, goal_met: true });
    expect([failed.passMark, failed.verdict, failed.goal]).toEqual([70, "Not passed", "Goal met"]);
    expect(failed.verdictReason).toBeNull();
    // At the pass mark but the goal not met: not passed, and the card says why.
    const short = readScorecardV2({ ...card, overall: 57, pass_score: 50, passed: false, goal_met: false });
    expect([short.verdict, short.verdictReason]).toEqual(["Not passed", "the score reached the pass mark, but the goal was not met"]);
    expect(readScorecardV2({ ...card, overall: 40, passed: false, goal_met: false }).verdictReason).toBeNull();
    // Nothing scored (ended before a turn, or training): no overall, no verdict.
    const empty = readScorecardV2({ ...card, overall: null, passed: null, criteria: [] });
    expect([empty.overall, empty.verdict]).toEqual([null, null]);
  });

  it("reads a card without a scenario (general rubric): judged on its pass mark, no facts, no goal", () => {
    const general = readScorecardV2({
      ...card, scenario_id: null, scenario_title: null, facts: [], goal_met: null, passed: false, pass_score: 60,
      rubric_id: "general-sales", rubric_name: "General sales conversation",
    });
    expect([general.verdict, general.passMark, general.factsSummary, general.goal, general.rubricName]).toEqual([
      "Not passed", 60, null, null, "General sales conversation",
    ]);
  });

  it("keeps the measured talk figures", () => {
    const figures = readScorecardV2(card).figures;
    expect(figures).toContainEqual(["You talked", "55% of the words"]);
    expect(figures).toContainEqual(["Filler words", "2"]);
    expect(figures).toContainEqual(["Backchannels", '3 ("uh-huh" while the customer spoke)']);
    expect(figures).toContainEqual(["Objections raised", "Monthly payment"]);
    expect(figures).toContainEqual(["Scored by", "offline rules"]);
  });
});

describe("message anchors", () => {
  it("round-trips a message id through the review page's address", () => {
    expect(messageIdFromHash(`#${messageAnchor("9b1c-22")}`)).toBe("9b1c-22");
    expect(messageIdFromHash("#scorecard")).toBeNull();
    expect(messageIdFromHash("")).toBeNull();
  });
});

describe("markQuote", () => {
  it("marks the verbatim quote inside the message", () => {
    expect(markQuote("So, what do you pay a month right now?", "what do you pay a month")).toEqual([
      { text: "So, ", mark: false },
      { text: "what do you pay a month", mark: true },
      { text: " right now?", mark: false },
    ]);
  });

  it("still finds a quote that differs in case or spacing, and leaves the text whole when absent", () => {
    expect(markQuote("How  do you USE the car?", "how do you use the car")).toEqual([
      { text: "How  do you USE the car", mark: true },
      { text: "?", mark: false },
    ]);
    expect(markQuote("Hello there", "goodbye")).toEqual([{ text: "Hello there", mark: false }]);
    expect(markQuote("Hello (there)", "(there)")).toEqual([
      { text: "Hello ", mark: false },
      { text: "(there)", mark: true },
    ]);
  });
});
