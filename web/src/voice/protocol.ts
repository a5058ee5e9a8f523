/**
 * The voice WebSocket protocol (`/api/v1/voice/live`), mirrored from the server's single
 * definition in `server/voice/protocol.py`. `protocol.drift.test.ts` fails when they differ.
 * See docs/voice-protocol.md for the full description.
 */

export const PROTOCOL_VERSION = "1.2";
export const VOICE_PATH = "/api/v1/voice/live";
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const FRAME_MS = 20;
export const INPUT_SAMPLE_RATES = [16000] as const;
export const OUTPUT_SAMPLE_RATES = [16000, 24000] as const;

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
  audioWords: "audio.words",
  interrupted: "interrupted",
  playbackPause: "playback.pause",
  playbackResume: "playback.resume",
  sources: "sources",
  metrics: "metrics",
  error: "error",
  warning: "warning",
  sessionEnded: "session.ended",
  avatarReady: "avatar.ready",
  avatarError: "avatar.error",
  avatarSpeaking: "avatar.speaking",
  reconnect: "reconnect",
} as const;
export type ServerEventName = (typeof ServerEvent)[keyof typeof ServerEvent];

export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  serviceRestart: 1012,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
  badStart: 4400,
  authFailed: 4401,
  forbidden: 4403,
  tooManySessions: 4429,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting cannot help (a drop, 1001 or 1011 is worth a resume). */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.policyViolation, CloseCode.tooBig, CloseCode.badStart, CloseCode.authFailed, CloseCode.forbidden,
  CloseCode.tooManySessions,
]);

export const ErrorCode = {
  malformed: "malformed",
  unknownType: "unknown_type",
  notStarted: "not_started",
  alreadyStarted: "already_started",
  badAudio: "bad_audio",
  audioTooFast: "audio_too_fast",
  unsupportedAudio: "unsupported_audio",
  sttFailed: "stt_failed",
  llmFailed: "llm_failed",
  ttsFailed: "tts_failed",
  sessionNotFound: "session_not_found",
  personaNotFound: "persona_not_found",
  scenarioNotFound: "scenario_not_found",
  assignmentNotFound: "assignment_not_found",
  rateLimited: "rate_limited",
  tooManySessions: "too_many_sessions",
  authFailed: "auth_failed",
  internal: "internal_error",
} as const;

/** `warning` events: the session goes on, slower. */
export const WarningCode = {
  warmingUp: "warming_up",
  offlineBusy: "offline_busy",
} as const;

/** Why `reconnect` asks the client to move (protocol 1.2). */
export const ReconnectReason = {
  serverDraining: "server_draining",
} as const;

export const EndReason = {
  clientEnd: "client_end",
  idle: "idle",
  maxDuration: "max_duration",
  timeLimit: "time_limit",
  serverShutdown: "server_shutdown",
  suspended: "suspended",
  accountInactive: "account_inactive",
  tokenRevoked: "token_revoked",
} as const;

/** Who draws the face (`start.avatar.provider`, protocol 1.2); `none` is plain voice. */
export const AvatarProvider = {
  builtin: "builtin",
  liveavatar: "liveavatar",
  none: "none",
} as const;
export type AvatarProviderName = (typeof AvatarProvider)[keyof typeof AvatarProvider];

/** What the session goes on with after an `avatar.error`. */
export const AvatarFallback = {
  builtin: "builtin",
  none: "none",
} as const;
export type AvatarFallbackName = (typeof AvatarFallback)[keyof typeof AvatarFallback];

export const AvatarErrorCode = {
  avatarDisabled: "avatar_disabled",
  avatarUnavailable: "avatar_unavailable",
  avatarQuotaExhausted: "avatar_quota_exhausted",
  avatarStartFailed: "avatar_start_failed",
  avatarDropped: "avatar_dropped",
} as const;

/** `avatar.speaking.state` (protocol 1.2, LiveAvatar only): the avatar started or stopped saying a reply. */
export const AvatarSpeakingState = {
  started: "started",
  ended: "ended",
} as const;
export type AvatarSpeakingStateName = (typeof AvatarSpeakingState)[keyof typeof AvatarSpeakingState];

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
  /** Practise a scenario (GET /api/v1/scenarios); the session keeps a frozen copy. */
  scenario_id?: string;
  /** Counts towards one of the caller's assignments (GET /api/v1/assignments) when it ends. */
  assignment_id?: string;
  session_id?: string;
  input_audio: AudioFormat & { channels: 1 };
  output_audio: AudioFormat;
  /** Protocol 1.2: absent (or `none`) is plain voice. */
  avatar?: { provider: AvatarProviderName };
}

export type ClientMessage =
  | { type: "auth"; token: string }
  | StartMessage
  | { type: "text"; text: string }
  | { type: "interrupt" }
  | { type: "playback"; message_id: string; played_ms: number }
  | { type: "end" };

/** The conversation engine's sources, the same records as the REST API's (`SourceOut`). */
import type { Source } from "../api/types";
export type { Source };

/** Milliseconds from the end of the user's speech (server/voice/metrics.py); endpoint and STT are null for typed turns. */
export type TurnMetrics = {
  message_id: string;
  endpoint_ms: number | null;
  stt_ms: number | null;
  llm_ttft_ms: number | null;
  tts_ttfb_ms: number | null;
  first_audio_ms: number | null;
  underruns: number;
};

/** One spoken word, in ms from the start of its message's audio (the `playback.played_ms` clock). */
export type TimedWord = { text: string; start_ms: number; end_ms: number };

export type ServerMessage =
  | {
      type: "ready";
      session_id: string;
      offline: { stt: boolean; llm: boolean; tts: boolean };
      /** The engines that hear and speak: a provider ("elevenlabs", an OpenAI model) or an offline model. */
      providers?: { stt: string; tts: string };
      protocol_version: string;
      persona_id: string | null;
      persona_name: string | null;
      /** The scenario practised, and the seconds left before its time limit ends the session. */
      scenario_id?: string | null;
      time_left_s?: number | null;
    }
  | { type: "vad"; speaking: boolean }
  | { type: "transcript"; text: string; final: boolean }
  | { type: "response.delta"; message_id: string; text: string }
  | { type: "audio.start"; message_id: string; sample_rate: number }
  | { type: "audio.end"; message_id: string }
  | { type: "audio.words"; message_id: string; offset_ms: number; words: TimedWord[] }
  | { type: "interrupted"; message_id: string; heard_text: string }
  /** Speech over the reply: stop playing at once, keep what is buffered (protocol 1.1). */
  | { type: "playback.pause"; message_id: string; at_ms: number }
  /** It was a backchannel (`text`, "" for a cough): play on from where it paused. */
  | { type: "playback.resume"; message_id: string; text?: string }
  | { type: "sources"; message_id: string; items: Source[] }
  | ({ type: "metrics" } & TurnMetrics)
  | { type: "error"; code: string; message: string; retryable: boolean }
  | { type: "warning"; code: string; message: string }
  | { type: "session.ended"; reason: string; session_id: string }
  /** Protocol 1.2: the face is on (`look`: the persona's `avatar_look`); for LiveAvatar, the LiveKit room the browser joins for its video and voice. */
  | { type: "avatar.ready"; provider: AvatarProviderName; look?: string; livekit_url?: string; livekit_token?: string }
  /** Protocol 1.2: the requested face could not start or dropped; the session goes on with `fallback`. */
  | { type: "avatar.error"; code: string; message: string; fallback: AvatarFallbackName }
  /**
   * Protocol 1.2, LiveAvatar only: the avatar started saying a reply (`at_ms`: from where in its
   * audio; after a backchannel, the pause point) or stopped at its end (`at_ms`: where). The
   * caption clock in that mode, there being no local playback.
   */
  | { type: "avatar.speaking"; message_id: string; state: AvatarSpeakingStateName; at_ms?: number }
  /** The instance is stopping: open a new socket at once and resume `session_id` (protocol 1.2). */
  | { type: "reconnect"; reason: string; session_id: string | null };

/** What the client sends: 20 ms frames of 16 kHz mono PCM16. */
export const INPUT_FORMAT = { encoding: "pcm_s16le", sample_rate: 16000, channels: 1 } as const;
