import { describe, expect, it } from "vitest";
import type { BuilderSession } from "./api/types";
import { builderReducer, collectedRows, draftBodies, INITIAL, stageIndex, stageLabel } from "./builder";
import { criteriaProblems, keyFrom, withKeys } from "./scenarios";

const started: BuilderSession = { id: "b1", stage: "customer", question: "Who is the customer?", collected: {}, done: false };

describe("builderReducer", () => {
  it("starts with the builder's first question", () => {
    const s = builderReducer(INITIAL, { type: "started", session: started });
    expect([s.id, s.stage, s.done]).toEqual(["b1", "customer", false]);
    expect(s.log).toEqual([{ role: "builder", text: "Who is the customer?" }]);
  });

  it("keeps one answer in flight, then adds it and the next question to the chat", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "  Maria, a nurse  " });
    expect(s.pending).toBe("Maria, a nurse");
    // A second answer while the first is on its way is ignored (one question at a time).
    expect(builderReducer(s, { type: "sent", text: "again" })).toBe(s);
    s = builderReducer(s, {
      type: "answered",
      reply: { stage: "vehicle", question: "What is she buying?", collected: { customer: { name: "Maria" } }, done: false },
    });
    expect(s.pending).toBeNull();
    expect(s.stage).toBe("vehicle");
    expect(s.log.map((l) => `${l.role}: ${l.text}`)).toEqual([
      "builder: Who is the customer?",
      "admin: Maria, a nurse",
      "builder: What is she buying?",
    ]);
    expect(s.collected).toEqual({ customer: { name: "Maria" } });
  });

  it("gives a failed answer back to the composer and keeps the chat as it was", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "Maria" });
    s = builderReducer(s, { type: "failed", message: "The server answered 503." });
    expect([s.pending, s.unsent, s.error]).toEqual([null, "Maria", "The server answered 503."]);
    expect(s.log).toHaveLength(1);
  });

  it("asks again when an answer was unclear: the same question appears twice", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "hmm" });
    s = builderReducer(s, { type: "answered", reply: { stage: "customer", question: "Who is the customer?", collected: {}, done: false } });
    expect(s.log.filter((l) => l.text === "Who is the customer?")).toHaveLength(2);
  });

  it("resumes a session with its history, without repeating the current question", () => {
    const s = builderReducer(INITIAL, {
      type: "started",
      session: {
        id: "b2", stage: "objections", question: "What will they object to?", collected: { vehicle: "RAV4" }, done: false,
        messages: [
          { role: "builder", text: "Who is the customer?" },
          { role: "admin", text: "Maria" },
          { role: "builder", text: "What will they object to?" },
        ],
      },
    });
    expect(s.log.map((l) => l.role)).toEqual(["builder", "admin", "builder"]);
    expect(s.collected).toEqual({ vehicle: "RAV4" });
  });

  it("finishes: done, then the draft", () => {
    let s = builderReducer(INITIAL, { type: "started", session: started });
    s = builderReducer(s, { type: "sent", text: "looks good" });
    s = builderReducer(s, { type: "answered", reply: { stage: "review", question: "", collected: {}, done: true } });
    expect(s.done).toBe(true);
    expect(s.log.at(-1)).toEqual({ role: "admin", text: "looks good" });
    s = builderReducer(s, { type: "drafted", draft: { persona: { name: "Maria" }, scenario: { title: "Maria's RAV4" } } });
    expect(s.draft?.scenario.title).toBe("Maria's RAV4");
    expect(builderReducer(s, { type: "reset" })).toEqual(INITIAL);
  });
});

describe("stages", () => {
  it("names the stages and places unknown ones first", () => {
    expect(stageLabel("hidden_facts")).toBe("Hidden facts");
    expect(stageLabel("vehicle_and_situation")).toBe("Vehicle and situation");
    expect(stageLabel("something_new")).toBe("Something new");
    expect(stageIndex("review")).toBe(6);
    expect(stageIndex("something_new")).toBe(0);
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

describe("draftBodies", () => {
  it("completes a sparse draft into a persona and a scenario the server accepts", () => {
    const { persona, scenario } = draftBodies({
      persona: { name: "Maria Lopez", vehicle: "2019 RAV4", difficulty: "hard" },
      scenario: { situation: "Wants to keep the payment under $450", objections: ["monthly_payment"], hidden_facts: [{ key: "payment", label: "Payment", value: "$389" }] },
    });
    expect(persona).toMatchObject({ kind: "customer", name: "Maria Lopez", difficulty: "hard", objections: ["monthly_payment"], voice: null, dealership_id: null });
    expect(scenario).toMatchObject({
      title: "Maria Lopez: 2019 RAV4", mode: "roleplay", difficulty: "hard", rubric_id: "general-sales", pass_score: 70,
      time_limit_s: null, active: true, hidden_facts: [{ key: "payment", label: "Payment", value: "$389" }],
    });
    // The persona id is filled in once the persona is saved (the builder's draft has null there).
    expect(scenario.persona_id).toBe("");
    expect(draftBodies({ persona: {}, scenario: { persona_id: null } }).scenario.persona_id).toBe("");
  });

  it("keeps the draft's own title, rubric and pass mark, and a super admin's dealership", () => {
    const { persona, scenario } = draftBodies(
      { persona: { name: "Tom" }, scenario: { title: "F&I menu", rubric_id: "fi-menu", pass_score: 80, difficulty: "easy" } },
      "d-1",
    );
    expect([scenario.title, scenario.rubric_id, scenario.pass_score, persona.difficulty]).toEqual(["F&I menu", "fi-menu", 80, "easy"]);
    expect(persona.dealership_id).toBe("d-1");
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
