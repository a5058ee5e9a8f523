import { describe, expect, it } from "vitest";
import type { BuilderDraft, BuilderSession } from "./api/types";
import { builderReducer, collectedRows, draftBodies, INITIAL, stageIndex, STAGES } from "./builder";
import { criteriaProblems, keyFrom, withKeys } from "./scenarios";

/** A session as the builder API returns it (BuilderOut), after `messages` so far. */
function session(messages: [ "builder" | "admin", string][], fields: Partial<BuilderSession> = {}): BuilderSession {
  const last = messages.at(-1);
  return {
    id: "b1", kind: "scenario", status: "active", stage: "customer", collected: {}, done: false,
    question: last?.[0] === "builder" ? last[1] : null,
    messages: messages.map(([role, text]) => ({ role, text })),
    created_at: "2026-12-05T09:00:00Z", expires_at: "2026-12-06T09:00:00Z",
    ...fields,
  };
}

const WHO = "Who is the customer?";
const started = session([["builder", WHO]]);

describe("builderReducer", () => {
  it("starts with the builder's first question", () => {
    const s = builderReducer(INITIAL, { type: "started", session: started });
    expect([s.id, s.stage, s.done, s.question]).toEqual(["b1", "customer", false, WHO]);
    expect(s.log).toEqual([{ role: "builder", text: WHO }]);
  });

  it("keeps one answer in flight, then shows the chat the server answers with", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "  Maria, a nurse  " });
    expect(s.pending).toBe("Maria, a nurse");
    // A second answer while the first is on its way is ignored (one question at a time).
    expect(builderReducer(s, { type: "sent", text: "again" })).toBe(s);
    s = builderReducer(s, {
      type: "answered",
      reply: session([["builder", WHO], ["admin", "Maria, a nurse"], ["builder", "What is Maria buying?"]],
        { stage: "vehicle", collected: { name: "Maria" } }),
    });
    expect(s.pending).toBeNull();
    expect(s.stage).toBe("vehicle");
    expect(s.log.map((l) => `${l.role}: ${l.text}`)).toEqual([
      `builder: ${WHO}`,
      "admin: Maria, a nurse",
      "builder: What is Maria buying?",
    ]);
    expect(s.collected).toEqual({ name: "Maria" });
  });

  it("gives a failed answer back to the composer and keeps the chat as it was", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "Maria" });
    s = builderReducer(s, { type: "failed", message: "The server answered 503." });
    expect([s.pending, s.unsent, s.error]).toEqual([null, "Maria", "The server answered 503."]);
    expect(s.log).toHaveLength(1);
    // The next try clears the error.
    expect(builderReducer(s, { type: "sent", text: "Maria" }).error).toBeNull();
  });

  it("resumes a session with its history, without repeating the current question", () => {
    const s = builderReducer(INITIAL, {
      type: "started",
      session: session([["builder", WHO], ["admin", "Maria"], ["builder", "What will they object to?"]],
        { id: "b2", stage: "objections", collected: { vehicle: "RAV4" } }),
    });
    expect(s.log.map((l) => l.role)).toEqual(["builder", "admin", "builder"]);
    expect([s.id, s.question]).toEqual(["b2", "What will they object to?"]);
    expect(s.collected).toEqual({ vehicle: "RAV4" });
  });

  it("asks a question the chat does not hold yet", () => {
    const s = builderReducer(INITIAL, { type: "started", session: { ...started, messages: [] } });
    expect(s.log).toEqual([{ role: "builder", text: WHO }]);
  });

  it("finishes: done, then the draft; reset forgets it all", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "looks good" });
    s = builderReducer(s, {
      type: "answered",
      reply: session([["builder", WHO], ["admin", "looks good"], ["builder", "The draft is ready."]], { stage: "review", done: true }),
    });
    expect(s.done).toBe(true);
    s = builderReducer(s, { type: "drafted", draft });
    expect(s.draft?.scenario.title).toBe("Maria Lopez: monthly payment objection");
    expect(builderReducer(s, { type: "reset" })).toEqual(INITIAL);
  });
});

describe("stages", () => {
  it("orders the stages and names each", () => {
    expect(STAGES.map((st) => st.key)).toEqual(["customer", "vehicle", "objections", "difficulty", "hidden_facts", "goal", "review"]);
    expect(STAGES[4]?.label).toBe("Hidden facts");
    expect(stageIndex("review")).toBe(6);
  });
});

describe("collectedRows", () => {
  it("shows the gathered fields in words, flattening one level and leaving out empty ones", () => {
    // The builder's `collected` (server/training/builder/collected.py): flat, only what is known.
    const rows = collectedRows({
      name: "Maria Lopez",
      age: 34,
      first_time_buyer: true,
      vehicle: "2019 RAV4",
      situation: "",
      objections: ["monthly_payment", "spouse"],
      difficulty: "hard",
      hidden_facts: [{ label: "Current payment", value: "$389 a month" }],
      goal: null,
      rubric_id: "needs-analysis",
    }, { "needs-analysis": "Needs analysis" });
    expect(rows.map((r) => [r.label, r.value])).toEqual([
      ["Customer", "Maria Lopez"],
      ["Age", "34"],
      ["First-time buyer", "Yes"],
      ["Vehicle", "2019 RAV4"],
      ["Objections", "Monthly payment; Spouse or partner"],
      ["Difficulty", "hard"],
      ["Hidden facts", "Current payment: $389 a month"],
      ["Rubric", "Needs analysis"],
    ]);
    // A stage answered "none" shows as such; a nested record reads like a flat one.
    expect(collectedRows({ objections: [], persona: { name: "Tom" } }).map((r) => [r.label, r.value])).toEqual([
      ["Objections", "None"],
      ["Customer", "Tom"],
    ]);
  });
});

// What POST /builder/sessions/{id}/complete returns (DraftOut).
const draft: BuilderDraft = {
  id: "b1",
  persona: {
    kind: "customer", name: "Maria Lopez", summary: "34, first-time buyer.", difficulty: "medium", vehicle: "2024 Toyota RAV4",
    budget: "under $450 a month", personality: "friendly", objections: [], opening_line: "Hi, I'm looking at the RAV4.",
    agree_line: "", voice: null, avatar_look: null,
  },
  scenario: {
    title: "Maria Lopez: monthly payment objection", mode: "roleplay", persona_id: null, situation: "Wants to keep the payment under $450.",
    objections: ["monthly_payment"], hidden_facts: [{ key: "current_payment", label: "Current payment", value: "She pays $389 a month." }],
    goal: "Find out her current payment.", rubric_id: "needs-analysis", pass_score: 50, time_limit_s: null, difficulty: "medium", active: true,
  },
};

describe("draftBodies", () => {
  it("makes the persona to save first, raising the scenario's objections, and the scenario awaiting its id", () => {
    const { persona, scenario } = draftBodies(draft);
    expect(persona).toMatchObject({ kind: "customer", name: "Maria Lopez", objections: ["monthly_payment"], dealership_id: null });
    expect(scenario).toMatchObject({ title: "Maria Lopez: monthly payment objection", rubric_id: "needs-analysis", pass_score: 50 });
    // The persona id is filled in once the persona is saved (the draft has null there).
    expect(scenario.persona_id).toBe("");
    expect(scenario).not.toHaveProperty("dealership_id");
  });

  it("keeps the persona's own objections when the scenario has none, and a super admin's dealership", () => {
    const { persona } = draftBodies({
      ...draft,
      persona: { ...draft.persona, objections: ["spouse"] },
      scenario: { ...draft.scenario, objections: [] },
    }, "d-1");
    expect([persona.objections, persona.dealership_id]).toEqual([["spouse"], "d-1"]);
  });
});

describe("keys and criteria", () => {
  it("derives keys from labels and keeps them unique", () => {
    expect(keyFrom("Current payment ($)")).toBe("current_payment");
    expect(withKeys([{ key: "", label: "Payment" }, { key: "", label: "Payment" }, { key: "own", label: "x" }]).map((f) => f.key)).toEqual([
      "payment", "payment_2", "own",
    ]);
  });

  it("says why criteria would be refused", () => {
    expect(criteriaProblems([])).toEqual(["Add at least one criterion."]);
    expect(criteriaProblems([
      { key: "listen", label: "Listen", description: "", weight: 1, scale: "binary" },
      { key: "listen", label: "Listen again", description: "", weight: 0, scale: "0-3" },
    ])).toEqual(['Listen again: the key "listen" is used twice.', "Listen again: the weight must be above 0 and at most 100."]);
    expect(criteriaProblems([{ key: "Bad Key", label: "", description: "", weight: 1, scale: "1-5" }])).toEqual([
      "Criterion 1 needs a label.", 'Criterion 1: the key may use only a-z, 0-9, "_" and "-".',
    ]);
  });
});
