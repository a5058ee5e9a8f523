/**
 * The guided scenario builder's state on the page: the conversation so far, the builder's current
 * question and stage, what it has collected, and the draft it ends with. A reducer over the
 * answers of /api/v1/builder/sessions (start or resume, each answer, complete), kept free of React
 * so it is tested on its own; `collectedRows` turns the collected fields into the side panel.
 */
import type { BuilderDraft, BuilderReply, BuilderSession, BuilderStage, PersonaIn, ScenarioFieldsValue } from "./api/types";
import { labelOf } from "./scorecard";
import { objectionLabel } from "./objections";

/** The builder's stages in order (the server skips those already known). A `Record` over the
 * generated union: a stage added on the server fails the typecheck until it has words here. */
export const STAGE_LABEL: Record<BuilderStage, string> = {
  customer: "Customer",
  vehicle: "Vehicle and situation",
  objections: "Objections",
  difficulty: "Difficulty and tone",
  hidden_facts: "Hidden facts",
  goal: "Goal and rubric",
  review: "Review",
};
export const STAGES = Object.entries(STAGE_LABEL).map(([key, label]) => ({ key: key as BuilderStage, label }));

/** 0-based position of a stage. */
export function stageIndex(stage: BuilderStage): number {
  return Math.max(0, STAGES.findIndex((s) => s.key === stage));
}

export interface ChatLine {
  role: "builder" | "admin";
  text: string;
}

export interface BuilderState {
  id: string | null;
  stage: BuilderStage;
  question: string;
  collected: Record<string, unknown>;
  done: boolean;
  log: ChatLine[];
  /** The admin's answer on its way; shown in the chat until the builder replies. */
  pending: string | null;
  /** An answer that failed to send, to put back in the composer. */
  unsent: string | null;
  error: string | null;
  draft: BuilderDraft | null;
}

export type BuilderAction =
  | { type: "started"; session: BuilderSession }
  | { type: "sent"; text: string }
  | { type: "answered"; reply: BuilderReply }
  | { type: "failed"; message: string }
  | { type: "drafted"; draft: BuilderDraft }
  | { type: "reset" };

export const INITIAL: BuilderState = {
  id: null, stage: "customer", question: "", collected: {}, done: false, log: [], pending: null, unsent: null,
  error: null, draft: null,
};

/** A resumed session's history, ending with its current question. */
function historyOf(session: BuilderSession): ChatLine[] {
  const lines: ChatLine[] = session.messages.map((m) => ({ role: m.role, text: m.text }));
  const last = lines.at(-1);
  if (session.question && !(last?.role === "builder" && last.text === session.question)) {
    // Not yet in the chat (a session with no messages kept): ask it.
    lines.push({ role: "builder", text: session.question });
  }
  return lines;
}

export function builderReducer(state: BuilderState, action: BuilderAction): BuilderState {
  switch (action.type) {
    case "started":
      return {
        ...INITIAL,
        id: action.session.id,
        stage: action.session.stage,
        question: action.session.question ?? "",
        collected: action.session.collected ?? {},
        done: action.session.done ?? false,
        log: historyOf(action.session),
      };
    case "sent":
      // One answer at a time: the composer is disabled while one is pending.
      if (state.pending !== null || !action.text.trim()) return state;
      return { ...state, pending: action.text.trim(), unsent: null, error: null };
    case "answered": {
      // Each answer returns the whole session: its chat is the truth (the answer, and the next
      // question or the same one asked again more narrowly).
      const { reply } = action;
      return {
        ...state,
        stage: reply.stage,
        question: reply.question ?? "",
        collected: reply.collected,
        done: reply.done,
        log: historyOf(reply),
        pending: null,
        error: null,
      };
    }
    case "failed":
      return { ...state, unsent: state.pending, pending: null, error: action.message };
    case "drafted":
      return { ...state, draft: action.draft, error: null };
    case "reset":
      return INITIAL;
  }
}

export interface CollectedRow {
  key: string;
  label: string;
  value: string;
}

const FIELD_LABELS: Record<string, string> = {
  name: "Customer",
  customer: "Customer",
  customer_name: "Customer",
  summary: "Who they are",
  age: "Age",
  first_time_buyer: "First-time buyer",
  customer_notes: "About them",
  vehicle: "Vehicle",
  trade_in: "Trade-in",
  budget: "Budget",
  situation: "Situation",
  objections: "Objections",
  difficulty: "Difficulty",
  tone: "Tone",
  personality: "Personality",
  hidden_facts: "Hidden facts",
  facts: "Hidden facts",
  goal: "Goal",
  rubric_id: "Rubric",
  rubric: "Rubric",
  pass_score: "Pass mark",
  title: "Title",
  time_limit_s: "Time limit",
};

function describe(key: string, value: unknown, names: Record<string, string>): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value) && value.length === 0) return "None";
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        if (item && typeof item === "object") {
          const record = item as Record<string, unknown>;
          const label = String(record.label ?? record.key ?? "");
          return record.value ? `${label}: ${String(record.value)}` : label;
        }
        return key === "objections" ? objectionLabel(String(item)) : String(item);
      })
      .filter(Boolean)
      .join("; ");
  }
  if (typeof value === "object") return "";
  if (key === "time_limit_s" && typeof value === "number") return `${Math.round(value / 60)} min`;
  if (key === "rubric_id" && typeof value === "string") return names[value] ?? value;
  return String(value).trim();
}

/**
 * What the builder has gathered, as rows for the side panel: one level of nesting is flattened
 * ({persona: {name}} and {name} read the same), empty fields are left out, and two keys with the
 * same label keep the first. A list answered "none" reads "None"; `rubricNames` names rubric ids.
 */
export function collectedRows(collected: Record<string, unknown>, rubricNames: Record<string, string> = {}): CollectedRow[] {
  const rows: CollectedRow[] = [];
  const seen = new Set<string>();
  const add = (key: string, value: unknown) => {
    const text = describe(key, value, rubricNames);
    const label = FIELD_LABELS[key] ?? labelOf(key);
    if (!text || seen.has(label)) return;
    seen.add(label);
    rows.push({ key, label, value: text });
  };
  for (const [key, value] of Object.entries(collected)) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) add(inner, innerValue);
    } else {
      add(key, value);
    }
  }
  return rows;
}

/**
 * The draft as the admin reviews and saves it: the persona first (POST /personas, with the
 * scenario's objections, which the customer raises), then the scenario with that persona's id
 * (POST /scenarios; the draft's `persona_id` is null until then).
 */
export function draftBodies(draft: BuilderDraft, dealershipId: string | null = null): { persona: PersonaIn; scenario: ScenarioFieldsValue } {
  const { objections = [], ...persona } = draft.persona;
  const { persona_id, ...scenario } = draft.scenario;
  return {
    persona: { ...persona, kind: "customer", objections: scenario.objections.length ? scenario.objections : objections, dealership_id: dealershipId },
    scenario: { ...scenario, persona_id: persona_id ?? "" },
  };
}

/** Where the page remembers the builder session it can resume (one per signed-in user). */
export function resumeKey(userId: string): string {
  return `sparring.builder.${userId}`;
}
