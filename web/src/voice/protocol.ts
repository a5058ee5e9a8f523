/**
 * The voice WebSocket protocol (`/api/v1/voice/live`), mirrored from the server's single
 * definition in `server/voice/protocol.py`. `protocol.drift.test.ts` fails when they differ.
 * See docs/voice-protocol.md for the full description.
 */

export const VOICE_PATH = "/api/v1/voice/live";

export const ClientEvent = {
  auth: "auth",
  start: "start",
  text: "text",
  interrupt: "interrupt",
  playback: "playback",
  end: "end",
} as const;
export type ClientEventName = (typeof ClientEvent)[keyof typeof ClientEvent];

export const ServerEvent = {
  ready: "ready",
  vad: "vad",
  transcript: "transcript",
  responseDelta: "response.delta",
  audioStart: "audio.start",
  audioEnd: "audio.end",
  interrupted: "interrupted",
  sources: "sources",
  metrics: "metrics",
  error: "error",
  sessionEnded: "session.ended",
} as const;
export type ServerEventName = (typeof ServerEvent)[keyof typeof ServerEvent];

export const CloseCode = {
  normal: 1000,
  messageTooBig: 1009,
  unauthorized: 4401,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting cannot help. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.unauthorized, CloseCode.messageTooBig]);

export type Mode = "training" | "roleplay";

export interface AudioFormat {
  encoding: "pcm_s16le";
  sample_rate: number;
  channels?: 1;
}

export interface StartMessage {
  type: "start";
  mode: Mode;
  persona_id?: string;
  session_id?: string;
  input_audio: AudioFormat & { channels: 1 };
  output_audio: AudioFormat;
}

export type ClientMessage =
  | { type: "auth"; token: string }
  | StartMessage
  | { type: "text"; text: string }
  | { type: "interrupt" }
  | { type: "playback"; message_id: string; played_ms: number }
  | { type: "end" };

export interface Source {
  document_id?: string;
  filename: string;
  page?: number | null;
  excerpt?: string;
  text?: string;
}

export interface TurnMetrics {
  message_id?: string;
  endpoint_ms?: number;
  stt_ms?: number;
  llm_ttft_ms?: number;
  tts_ttfb_ms?: number;
  first_audio_ms?: number;
  [key: string]: unknown;
}

export type ServerMessage =
  | { type: "ready"; session_id: string; offline: { stt: boolean; llm: boolean; tts: boolean } }
  | { type: "vad"; speaking: boolean }
  | { type: "transcript"; text: string; final: boolean }
  | { type: "response.delta"; message_id: string; text: string }
  | { type: "audio.start"; message_id: string; sample_rate: number }
  | { type: "audio.end"; message_id: string }
  | { type: "interrupted"; message_id: string; heard_text: string }
  | { type: "sources"; message_id?: string; sources: Source[] }
  | ({ type: "metrics" } & TurnMetrics)
  | { type: "error"; code: string; message: string; retryable: boolean }
  | { type: "session.ended"; reason: string; session_id: string };

/** What the client sends: 20 ms frames of 16 kHz mono PCM16. */
export const INPUT_FORMAT = { encoding: "pcm_s16le", sample_rate: 16000, channels: 1 } as const;
