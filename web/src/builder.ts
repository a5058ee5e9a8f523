/**
 * The guided scenario builder's state on the page: the conversation so far, the builder's current
 * question and stage, what it has collected, and the draft it ends with. A reducer over the
 * answers of /api/v1/builder/sessions (start or resume, each answer, complete), kept free of React
 * so it is tested on its own; `collectedRows` turns the collected fields into the side panel.
 */
import type { BuilderDraft, BuilderReply, BuilderSession, Difficulty, Objection, PersonaIn, ScenarioFieldsValue } from "./api/types";
import { GENERAL_RUBRIC_ID } from "./scenarios";
import { labelOf } from "./scorecard";
import { objectionLabel } from "./objections";

/** The builder's stages in order (the server skips those already known). */
export const STAGES: { key: string; label: string }[] = [
  { key: "customer", label: "Customer" },
  { key: "vehicle", label: "Vehicle and situation" },
  { key: "objections", label: "Objections" },
  { key: "difficulty", label: "Difficulty and tone" },
  { key: "hidden_facts", label: "Hidden facts" },
  { key: "goal", label: "Goal and rubric" },
  { key: "review", label: "Review" },
];

export function stageLabel(stage: string): string {
  return STAGES.find((s) => s.key === stage || stage.startsWith(s.key))?.label ?? labelOf(stage);
}

/** 0-based position of a stage; an unknown stage counts as the first. */
export function stageIndex(stage: string): number {
  return Math.max(0, STAGES.findIndex((s) => s.key === stage || stage.startsWith(s.key)));
}

export interface ChatLine {
  role: "builder" | "admin";
  text: string;
}

export interface BuilderState {
  id: string | null;
  stage: string;
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
  id: null, stage: STAGES[0]!.key, question: "", collected: {}, done: false, log: [], pending: null, unsent: null,
  error: null, draft: null,
};

/** A resumed session's history, when the server sends it; else only its current question. */
function historyOf(session: BuilderSession): ChatLine[] {
  const lines: ChatLine[] = (session.messages ?? []).map((m) => ({
    role: m.role === "admin" ? "admin" : "builder",
    text: m.text,
  }));
  const last = lines.at(-1);
  if (session.question && !(last?.role === "builder" && last.text === session.question)) {
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
        question: action.session.question,
        collected: action.session.collected ?? {},
        done: action.session.done ?? false,
        log: historyOf(action.session),
      };
    case "sent":
      // One answer at a time: the composer is disabled while one is pending.
      if (state.pending !== null || !action.text.trim()) return state;
      return { ...state, pending: action.text.trim(), unsent: null, error: null };
    case "answered": {
      const { reply } = action;
      const log: ChatLine[] = [...state.log];
      if (state.pending !== null) log.push({ role: "admin", text: state.pending });
      if (reply.question) log.push({ role: "builder", text: reply.question });
      return {
        ...state,
        stage: reply.stage,
        question: reply.question,
        collected: reply.collected ?? state.collected,
        done: reply.done,
        log,
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

const DIFFICULTIES: Difficulty[] = ["easy", "medium", "hard"];

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function difficulty(value: unknown): Difficulty {
  return DIFFICULTIES.includes(value as Difficulty) ? (value as Difficulty) : "medium";
}

/**
 * The draft completed into what the admin reviews and saves: the persona first (POST /personas),
 * then the scenario with that persona's id (POST /scenarios). Missing fields take the server's
 * defaults, so a sparse draft still saves.
 */
export function draftBodies(draft: BuilderDraft, dealershipId: string | null = null): { persona: PersonaIn; scenario: ScenarioFieldsValue } {
  const p = draft.persona;
  const s = draft.scenario;
  const objections = (s.objections ?? p.objections ?? []) as Objection[];
  const persona: PersonaIn = {
    kind: "customer",
    name: text(p.name) || "Customer",
    summary: text(p.summary),
    difficulty: difficulty(p.difficulty ?? s.difficulty),
    vehicle: text(p.vehicle),
    budget: text(p.budget),
    personality: text(p.personality),
    objections,
    opening_line: text(p.opening_line),
    agree_line: text(p.agree_line),
    voice: p.voice ?? null,
    lines: p.lines ?? {},
    dealership_id: dealershipId,
  };
  const scenario: ScenarioFieldsValue = {
    title: text(s.title) || `${persona.name}${persona.vehicle ? `: ${persona.vehicle}` : ""}`,
    mode: s.mode ?? "roleplay",
    persona_id: text(s.persona_id),
    situation: text(s.situation),
    objections,
    hidden_facts: s.hidden_facts ?? [],
    goal: text(s.goal),
    rubric_id: text(s.rubric_id) || GENERAL_RUBRIC_ID,
    pass_score: typeof s.pass_score === "number" ? s.pass_score : 70,
    time_limit_s: s.time_limit_s ?? null,
    difficulty: difficulty(s.difficulty ?? p.difficulty),
    active: s.active ?? true,
  };
  return { persona, scenario };
}

/** Where the page remembers the builder session it can resume (one per signed-in user). */
export function resumeKey(userId: string): string {
  return `sparring.builder.${userId}`;
}
