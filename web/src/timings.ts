/**
 * A turn's timings as a trainee sees them: one "response time", the wait from the end of their
 * turn to the first of the answer. Voice turns: to the first reply audio (`first_audio_ms`,
 * measured by the server from the end of speech on the audio's own timeline); text turns: to the
 * answer's first words (`ttft_ms`). Admins see every stage in the waterfall (components/Waterfall).
 */

/** A message's `metrics` and `timings` merged (open objects on the server: every value is checked). */
export type Metrics = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

const VOICE_KEYS = ["endpoint_ms", "stt_ms", "tts_ttfb_ms", "first_audio_ms"];

export function isVoiceTurn(m: Metrics): boolean {
  return VOICE_KEYS.some((key) => key in m);
}

/** The wait the user had, in ms, or null when it was not measured (a reply cut off before any audio). */
export function responseTimeMs(m: Metrics): number | null {
  return isVoiceTurn(m) ? num(m.first_audio_ms) : num(m.ttft_ms);
}

export function formatResponseTime(ms: number | null): string {
  if (ms === null) return "not measured";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
