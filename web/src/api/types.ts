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
export type SessionDetail = Omit<Schemas["SessionDetail"], "scorecard"> & { scorecard: Scorecard | null };
export type ReportIn = Schemas["ReportIn"];
export type Report = Schemas["ReportOut"];
export type ReportList = Schemas["ReportList"];
export type ReportPatch = Pick<Schemas["ReportPatch"], "status"> & Partial<Schemas["ReportPatch"]>;
export type ReportStatus = Schemas["ReportStatus"];

// --- practice management (teams, programmes, assignments, certification) ---
export type Scenario = Schemas["ScenarioOut"];
export type ScenarioList = Schemas["ScenarioList"];
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
export type Stage = Schemas["Stage"];
