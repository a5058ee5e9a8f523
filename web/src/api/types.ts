/**
 * Names for the REST API's shapes: each is an alias of the schema generated from the server's
 * /api/openapi.json (`npm run gen:api`), so a server change the client does not follow fails the
 * typecheck. What OpenAPI cannot describe is typed next to its reader: the Server-Sent Events of
 * POST /api/v1/chat in `chat.ts`, the voice protocol in `../voice/protocol.ts`.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

// --- accounts and dealerships ---
export type Role = Schemas["Role"];
export type User = Schemas["UserOut"];
export type UserDetail = Schemas["UserDetail"];
export type UserList = Schemas["UserList"];
export type UserPatch = Partial<Schemas["UserPatch"]>;
export type TokenResponse = Schemas["TokenOut"];
export type Dealership = Schemas["DealershipOut"];
export type DealershipList = Schemas["DealershipList"];

// --- documents (/api/v1/rag) ---
export type DocumentItem = Schemas["DocumentOut"];
export type DocumentList = Schemas["DocumentList"];
export type UploadResult = Schemas["UploadOut"];
export type UploadFileResult = Schemas["FileResult"];

// --- conversations ---
export type Mode = Schemas["Mode"];
export type Channel = Schemas["Channel"];
export type SessionStatus = Schemas["SessionStatus"];
export type ChatIn = Schemas["ChatIn"];
export type ChatOut = Schemas["ChatOut"];
export type Source = Schemas["SourceOut"];
export type Persona = Schemas["PersonaOut"];
export type PersonaList = Schemas["PersonaList"];
export type PersonaIn = Schemas["PersonaIn"];
/** A PATCH sends only the fields that change (the server applies the ones that are set). */
export type PersonaPatch = Partial<Schemas["PersonaPatch"]>;
export type Objection = Schemas["Objection"];
export type Difficulty = Persona["difficulty"];
export type SessionSummary = Schemas["SessionSummary"];
export type SessionList = Schemas["SessionList"];
export type SessionMessage = Schemas["MessageOut"];
export type Scorecard = Schemas["ScorecardOut"];
export type Score = Schemas["ScoreOut"];
/**
 * The server declares a stored scorecard as a free-form object; it is the same record that
 * POST /sessions/{id}/end returns (`ScorecardOut`, built by server/conversation/scorecard.py).
 */
export type SessionDetail = Omit<Schemas["SessionDetail"], "scorecard"> & {
  scorecard: AnyScorecard | null;
  /** The scenario as it was when the session started (its frozen copy), for sessions with one. */
  scenario?: FrozenScenario | null;
};
export type ReportIn = Schemas["ReportIn"];
export type Report = Schemas["ReportOut"];
export type ReportList = Schemas["ReportList"];
export type ReportPatch = Pick<Schemas["ReportPatch"], "status"> & Partial<Schemas["ReportPatch"]>;
export type ReportStatus = Schemas["ReportStatus"];

// --- scenarios, rubrics, the builder and scorecard v2 (issue 18) ---
// PROVISIONAL: written from server/training/spec.py and the contract until the server's
// routes land; replaced by aliases of the generated schema after `npm run gen:api`.
export type Scale = "binary" | "0-3" | "1-5";
export interface Criterion {
  key: string;
  label: string;
  description: string;
  weight: number;
  scale: Scale;
}
export interface RubricIn {
  name: string;
  description: string;
  criteria: Criterion[];
  dealership_id?: string | null;
}
export type RubricPatch = Partial<RubricIn>;
export interface Rubric extends RubricIn {
  id: string;
  builtin: boolean;
  dealership_id: string | null;
}
export interface RubricList {
  items: Rubric[];
  total: number;
}
export interface HiddenFact {
  key: string;
  label: string;
  value: string;
}
export interface ScenarioIn {
  title: string;
  mode: Mode;
  persona_id: string;
  situation: string;
  objections: Objection[];
  hidden_facts: HiddenFact[];
  goal: string;
  rubric_id: string;
  pass_score: number;
  time_limit_s: number | null;
  difficulty: Difficulty;
  active: boolean;
  dealership_id?: string | null;
}
export type ScenarioPatch = Partial<ScenarioIn>;
export interface Scenario extends ScenarioIn {
  id: string;
  builtin: boolean;
  dealership_id: string | null;
}
export interface ScenarioList {
  items: Scenario[];
  total: number;
}
export type BuilderStage = string;
export interface BuilderSession {
  id: string;
  stage: BuilderStage;
  question: string;
  collected: Record<string, unknown>;
  done: boolean;
  messages?: { role: "builder" | "admin" | "user" | "assistant"; text: string }[];
}
export type BuilderReply = Omit<BuilderSession, "id" | "messages"> & { id?: string };
export interface BuilderDraft {
  persona: Partial<PersonaIn>;
  scenario: Partial<ScenarioIn>;
}
export interface EvidenceOut {
  message_id: string;
  quote: string;
}
export interface CriterionResultOut {
  key: string;
  label: string;
  score: number;
  max: number;
  reason: string;
  evidence: EvidenceOut[];
}
export interface FactResultOut {
  key: string;
  label: string;
  uncovered: boolean;
  message_id?: string | null;
  turn?: number | null;
}
export interface ScorecardV2 {
  version: 2;
  session_id?: string;
  scenario_id?: string | null;
  rubric_id?: string | null;
  rubric_name?: string | null;
  overall: number;
  passed: boolean | null;
  pass_score?: number | null;
  criteria: CriterionResultOut[];
  facts: FactResultOut[];
  goal_met: boolean | null;
  summary: string;
  talk_ratio: number | null;
  generated_by?: string;
  turns?: number;
  words_per_minute?: number | null;
  filler_words?: Record<string, unknown> | null;
  longest_monologue?: Record<string, unknown> | null;
  backchannels?: unknown;
}
/** Either scorecard a session can hold: today's (role-play dimensions 1-5) or version 2. */
export type AnyScorecard = Scorecard | ScorecardV2;
/** What a session keeps of its scenario (server/training/spec.py `FrozenScenario`). */
export interface FrozenScenario {
  id: string;
  spec: ScenarioIn;
  rubric_id: string;
  rubric: RubricIn;
}
