/**
 * Names for the API's shapes. Foundation types come from the generated OpenAPI schema; the
 * documents, conversations and voice APIs are written against their issue contracts until their
 * endpoints are in the generated file (then switch these aliases to `Schemas[...]`).
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Role = Schemas["Role"];
export type User = Schemas["UserOut"];
export type UserDetail = Schemas["UserDetail"];
export type UserList = Schemas["UserList"];
export type TokenResponse = Schemas["TokenOut"];
export type Dealership = Schemas["DealershipOut"];
export type DealershipList = Schemas["DealershipList"];

// --- documents (issue 3 contract) ---
export type DocumentStatus = "queued" | "processing" | "ready" | "failed";
export interface DocumentItem {
  id: string;
  filename: string;
  status: DocumentStatus;
  error: string | null;
  /** Why a queued document is still waiting (no document worker running); it stays queued. */
  status_reason?: string | null;
  /** Queued only: this dealership's documents ahead of it. */
  waiting_behind?: number | null;
  pages: number | null;
  chunks: number | null;
  size: number | null;
  created_at: string;
  updated_at: string;
}

// --- conversations (issue 4 contract) ---
export type Mode = "training" | "roleplay";
export interface ChatSource {
  document_id?: string;
  filename: string;
  page?: number | null;
  excerpt?: string;
}
export interface Persona {
  id: string;
  name: string;
  [field: string]: unknown;
}
export interface SessionMessage {
  id: string;
  role: string;
  text: string;
  sources?: ChatSource[];
  interrupted?: boolean;
  created_at?: string;
  latency?: Record<string, number | null> | null;
  timings?: Record<string, number | null> | null;
  metrics?: Record<string, number | null> | null;
  [field: string]: unknown;
}
export interface SessionSummary {
  id: string;
  mode: Mode;
  persona_id?: string | null;
  persona_name?: string | null;
  user_id?: string;
  created_at?: string;
  started_at?: string;
  ended_at?: string | null;
  scorecard?: unknown;
  [field: string]: unknown;
}
export interface SessionDetail extends SessionSummary {
  messages?: SessionMessage[];
  transcript?: SessionMessage[];
  recording_url?: string | null;
}
export interface Report {
  id: string;
  session_id: string;
  message_id: string;
  reason: string;
  status?: string;
  resolved?: boolean;
  created_at?: string;
  [field: string]: unknown;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** Lists come as `{items, total}` by convention; accept a bare array too. */
export function itemsOf<T>(data: Page<T> | T[] | { [key: string]: unknown }): T[] {
  if (Array.isArray(data)) return data;
  const items = (data as { items?: T[] }).items;
  return Array.isArray(items) ? items : [];
}
