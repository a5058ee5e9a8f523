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
export type UserCreated = Schemas["UserCreated"];
export type OutboxItem = Schemas["OutboxItem"];
export type OutboxList = Schemas["OutboxList"];
export type Dealership = Schemas["DealershipOut"];
export type DealershipList = Schemas["DealershipList"];
/** A dealership's face-to-face settings (`settings.avatar`). */
export type AvatarSettings = Schemas["AvatarSettings"];
/** GET /api/v1/usage (named by its module: another schema is also called UsageOut). */
export type Usage = Schemas["server__api__usage__UsageOut"];

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
/**
 * What POST /sessions/{id}/end returns: scorecard version 2 (the rubric's criteria with evidence,
 * facts, goal, pass/fail) with the version 1 fields (five dimensions, talk figures) beside it.
 */
export type ScorecardV2 = Schemas["ScorecardOut"];
/** A version 1 card, stored by sessions that ended before scenarios: no version, no criteria. */
export type Scorecard = Omit<ScorecardV2, "version" | "criteria" | "facts" | "goal_met" | "legacy_overall" | "pass_score" |
  "passed" | "rubric_id" | "rubric_name" | "scenario_id" | "scenario_title" | "backchannels"> & {
  /** Absent from cards stored before it was counted. */
  backchannels?: number | null;
};
/** Either scorecard a session can hold; `isV2` (scorecardV2.ts) tells them apart. */
export type AnyScorecard = ScorecardV2 | Scorecard;
export type CriterionResult = Schemas["CriterionOut"];
export type FactResult = Schemas["FactOut"];
export type Score = Schemas["ScoreOut"];
/**
 * The server declares a stored scorecard as a free-form object; it is the same record that
 * POST /sessions/{id}/end returns (`ScorecardOut`, built by server/conversation/scorecard.py).
 */
export type SessionDetail = Omit<Schemas["SessionDetail"], "scorecard" | "scenario"> & {
  scorecard: AnyScorecard | null;
  /** The scenario as it was when the session started (its frozen copy), for sessions with one. */
  scenario?: FrozenScenario | null;
};
export type ReportIn = Schemas["ReportIn"];
export type Report = Schemas["ReportOut"];
export type ReportList = Schemas["ReportList"];
export type ReportPatch = Pick<Schemas["ReportPatch"], "status"> & Partial<Schemas["ReportPatch"]>;
export type ReportStatus = Schemas["ReportStatus"];

// --- scenarios and rubrics (issue 18) ---
export type Criterion = Schemas["CriterionSpec"];
export type Scale = Criterion["scale"];
export type Rubric = Schemas["RubricOut"];
export type RubricIn = Schemas["RubricIn"];
export type RubricList = Schemas["RubricList"];
export type RubricPatch = Partial<Schemas["RubricPatch"]>;
export type HiddenFact = Schemas["HiddenFact"];
export type Scenario = Schemas["ScenarioOut"];
export type ScenarioIn = Schemas["ScenarioIn"];
export type ScenarioList = Schemas["ScenarioList"];
export type ScenarioPatch = Partial<Schemas["ScenarioPatch"]>;
/** A scenario's fields as the editors hold them: its lists always present, no dealership yet. */
export type ScenarioFieldsValue = Omit<ScenarioIn, "objections" | "hidden_facts" | "dealership_id" | "persona" | "persona_id"> & {
  /** The editors pick an existing persona; the builder saves its new one inline (`ScenarioIn.persona`). */
  persona_id: string;
  objections: Objection[];
  hidden_facts: HiddenFact[];
};
/**
 * What a session keeps of its scenario (server/training/spec.py `FrozenScenario`); the server
 * declares the session's `scenario` as an open object.
 */
export interface FrozenScenario {
  id: string;
  spec: Omit<ScenarioIn, "dealership_id">;
  rubric_id: string;
  rubric: Omit<RubricIn, "dealership_id">;
}

// --- the guided builder (issue 18) ---
export type BuilderSession = Schemas["BuilderOut"];
// Two server enums are named Stage (the builder's, the certification board's): the schema keeps both by module.
export type BuilderStage = Schemas["Stage"];
export type BuilderStatus = Schemas["BuilderStatus"];
export type BuilderStart = Schemas["BuilderStart"];
export type BuilderAnswer = Schemas["BuilderAnswer"];
/** Each answer returns the whole session again (the next question, what is gathered, the chat). */
export type BuilderReply = BuilderSession;
/** The draft persona and scenario (`scenario.persona_id` null until the persona is saved). */
export type BuilderDraft = Schemas["DraftOut"];

// --- practice management (teams, programmes, assignments, certification) ---
export type Team = Schemas["TeamOut"];
export type TeamList = Schemas["TeamList"];
export type Program = Schemas["ProgramOut"];
export type ProgramList = Schemas["ProgramList"];
export type Assignment = Schemas["AssignmentOut"];
export type AssignmentList = Schemas["AssignmentList"];
export type AssignmentIn = Schemas["AssignmentIn"];
export type Progress = Schemas["ProgressOut"];
export type ProgressStatus = Schemas["Status"];
export type Board = Schemas["BoardOut"];
export type BoardCard = Schemas["CardOut"];
export type BoardStage = Schemas["BoardStage"];

// --- team insight and the review queue (/api/v1/insights, /api/v1/reviews) ---
export type TeamInsight = Schemas["TeamInsight"];
export type HeatCell = Schemas["HeatCell"];
export type FirstVsBest = Schemas["FirstVsBest"];
export type PracticeWeek = Schemas["Week"];
export type LeaderboardEntry = Schemas["LeaderboardEntry"];
export type Review = Schemas["ReviewOut"];
export type ReviewList = Schemas["ReviewList"];
export type ReviewResolve = Schemas["ResolveIn"];
export type SessionReview = Schemas["SessionReviewOut"];

// --- webhooks (issue 19) ---
export type Webhook = Schemas["WebhookOut"];
export type WebhookCreated = Schemas["WebhookCreated"];
export type WebhookList = Schemas["WebhookList"];
export type WebhookEvent = Schemas["WebhookIn"]["events"][number];
export type WebhookDelivery = Schemas["DeliveryOut"];
export type WebhookDeliveryList = Schemas["DeliveryList"];
