import { describe, expect, it } from "vitest";
import { formatResponseTime, isVoiceTurn, responseTimeMs } from "./timings";

// What GET /api/v1/sessions/{id} returns for an answer, `timings` and `metrics` merged as the
// review page does: the engine's own timings, plus the voice channel's (server/voice/metrics.py).
const voiceTurn = {
  ttft_ms: 310, total_ms: 1900, model_ttft_ms: 280, open_ms: 0.1, retrieval_ms: 2,
  endpoint_ms: 8520, stt_ms: 400, llm_ttft_ms: 310, tts_ttfb_ms: 180, first_audio_ms: 9410,
};
const textTurn = { ttft_ms: 640, total_ms: 2100, model_ttft_ms: 600 };

describe("response time", () => {
  it("is the wait for the first reply audio on a voice turn, not the model's first token", () => {
    expect(isVoiceTurn(voiceTurn)).toBe(true);
    expect(responseTimeMs(voiceTurn)).toBe(9410);
    expect(formatResponseTime(responseTimeMs(voiceTurn))).toBe("9.4 s");
  });

  it("is the wait for the first words on a text turn", () => {
    expect(isVoiceTurn(textTurn)).toBe(false);
    expect(responseTimeMs(textTurn)).toBe(640);
    expect(formatResponseTime(640)).toBe("640 ms");
  });

  it("is not made up for a voice reply cut off before any audio", () => {
    const cut = { ...voiceTurn, first_audio_ms: null };
    expect(responseTimeMs(cut)).toBeNull();
    expect(formatResponseTime(null)).toBe("not measured");
  });
});
