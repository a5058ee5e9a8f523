import { describe, expect, it } from "vitest";
import type { ServerMessage } from "../voice/protocol";
import { audibleTime } from "./clock";
import { AvatarDriver, THINKING_TIMEOUT_MS } from "./driver";
import { visemeAt, visemeTimeline } from "./visemes";

const RATE = 48000;
const WORDS = [
  { text: "Monthly", start_ms: 0, end_ms: 420 },
  { text: "payments", start_ms: 480, end_ms: 1000 },
  { text: "matter", start_ms: 1100, end_ms: 1500 },
];

/** A worklet's report: `playedMs` of message m rendered by context time `time`. */
function report(time: number, playedMs: number, playing = true, current: string | null = "m", bufferedMs = 400) {
  return { time, sampleRate: RATE, buffered: (bufferedMs * RATE) / 1000, current, playing,
    played: current ? [{ messageId: current, playedSamples: Math.round((playedMs * RATE) / 1000) }] : [] };
}

function speakingDriver(now = 0): AvatarDriver {
  const d = new AvatarDriver();
  const send = (m: ServerMessage) => d.onMessage(m, now);
  send({ type: "response.delta", message_id: "m", text: "Monthly payments matter." });
  send({ type: "audio.start", message_id: "m", sample_rate: 24000 });
  send({ type: "audio.words", message_id: "m", offset_ms: 0, words: WORDS });
  return d;
}

describe("lips on the playback clock", () => {
  it("follow the sound within ±40 ms between the worklet's ~100 ms reports", () => {
    const d = speakingDriver();
    const spans = visemeTimeline(WORDS);
    const start = 5.0; // context time at which sample 0 of the reply was rendered
    let lastReport = -1;
    let worst = 0;
    for (let t = start; t < start + 1.5; t += 0.004) {
      // The worklet reports each 100 ms of audio (rounded to 128-sample quanta).
      const due = Math.floor(((t - start) * 1000) / 100);
      if (due > lastReport) {
        lastReport = due;
        const rendered = Math.ceil((due * 100 * RATE) / 1000 / 128) * 128;
        d.onProgress(report(start + rendered / RATE, (rendered / RATE) * 1000));
      }
      const frame = d.frame(t, t * 1000);
      const truth = (t - start) * 1000;
      worst = Math.max(worst, Math.abs((frame.replyMs ?? -1000) - truth));
      expect(frame.state).toBe("speaking");
      // The shape shown is the one due at a moment within 40 ms of the true position.
      const near = [-40, -20, 0, 20, 40].map((dt) => visemeAt(spans, truth + dt));
      expect(near).toContain(frame.viseme);
    }
    expect(worst).toBeLessThan(40);
  });

  it("uses the audible time, so output latency delays the lips like the sound", () => {
    const d = speakingDriver();
    d.onProgress(report(10, 500));
    // Rendered up to 500 ms at t=10 s; what is audible at t=10 s is 30 ms older (latency).
    expect(d.frame(9.97, 0).replyMs).toBeCloseTo(470, 5);
    const context = { currentTime: 10, getOutputTimestamp: () => ({ contextTime: 9.97, performanceTime: 1000 }) };
    expect(audibleTime(context as unknown as AudioContext, 1010)).toBeCloseTo(9.98, 6);
  });

  it("stops moving the lips when the reports stop (the worklet ran dry)", () => {
    const d = speakingDriver();
    d.onProgress(report(1, 200, true, "m", 100));
    expect(d.frame(1.5, 0).replyMs).toBe(300); // never past what the worklet held
    d.onProgress(report(1.1, 300, false));
    expect(d.frame(1.2, 0)).toMatchObject({ state: "idle", viseme: "sil" });
  });
});

describe("interruption and pause", () => {
  it("closes the mouth at once on `interrupted`, even if a stale report follows", () => {
    const d = speakingDriver();
    d.onProgress(report(2, 500));
    expect(d.frame(2.01, 0).viseme).not.toBe("sil");
    d.onMessage({ type: "interrupted", message_id: "m", heard_text: "Monthly" }, 0);
    expect(d.frame(2.02, 0)).toMatchObject({ viseme: "sil" });
    d.onProgress(report(2.05, 560)); // sent by the worklet before it flushed
    expect(d.frame(2.06, 0).viseme).toBe("sil");
  });

  it("rests on `playback.pause` and moves again after `playback.resume`", () => {
    const d = speakingDriver();
    d.onProgress(report(2, 500));
    d.onMessage({ type: "playback.pause", message_id: "m", at_ms: 500 }, 0);
    expect(d.frame(2.01, 0).viseme).toBe("sil");
    d.onMessage({ type: "playback.resume", message_id: "m", text: "uh-huh" }, 0);
    d.onProgress(report(3, 520));
    expect(d.frame(3.0, 0).viseme).toBe(visemeAt(visemeTimeline(WORDS), 520));
  });
});

describe("states", () => {
  it("goes idle, listening, thinking, speaking, idle", () => {
    const d = new AvatarDriver();
    const seen = [d.frame(0, 0).state];
    d.onMessage({ type: "vad", speaking: true }, 100);
    seen.push(d.frame(0, 100).state);
    d.onMessage({ type: "vad", speaking: false }, 200);
    seen.push(d.frame(0, 200).state);
    d.onMessage({ type: "audio.words", message_id: "m", offset_ms: 0, words: WORDS }, 300);
    seen.push(d.frame(0, 300).state); // words, but no audio heard yet: still thinking
    d.onProgress(report(1, 0));
    seen.push(d.frame(1.1, 400).state);
    d.onProgress(report(2.6, 1600, false));
    seen.push(d.frame(2.7, 500).state);
    expect(seen).toEqual(["idle", "listening", "thinking", "thinking", "speaking", "idle"]);
  });

  it("stops thinking when the turn was no words, or no reply comes", () => {
    const noise = new AvatarDriver();
    noise.onMessage({ type: "vad", speaking: true }, 0);
    noise.onMessage({ type: "vad", speaking: false }, 10);
    expect(noise.frame(0, 20).state).toBe("thinking");
    noise.onMessage({ type: "transcript", text: " ", final: true }, 30);
    expect(noise.frame(0, 40).state).toBe("idle");
    const d = new AvatarDriver();
    d.onTypedTurn(0);
    expect(d.frame(0, 10).state).toBe("thinking");
    expect(d.frame(0, THINKING_TIMEOUT_MS + 1).state).toBe("idle");
  });

  it("with LiveAvatar (no local audio), speaks from the reply's first words to its audio.end", () => {
    const d = new AvatarDriver(true);
    d.onMessage({ type: "audio.words", message_id: "m", offset_ms: 0, words: WORDS }, 0);
    expect(d.frame(0, 0).state).toBe("speaking");
    d.onMessage({ type: "audio.end", message_id: "m" }, 0);
    expect(d.frame(0, 0).state).toBe("idle");
  });
});

describe("without audio.words (an older server)", () => {
  it("times the mouth from the text, then over the audio's real length", () => {
    const d = new AvatarDriver();
    d.onMessage({ type: "response.delta", message_id: "m", text: "Bob pays." }, 0);
    d.onAudio("m", 2 * 24000, 24000); // one second of PCM16 at 24 kHz
    d.onProgress(report(1, 0));
    expect(d.frame(1.01, 0).viseme).toBe("PP"); // the B of "Bob", at the start
    d.onMessage({ type: "audio.end", message_id: "m" }, 0);
    // "Bob pays." over 1000 ms: 9 characters, so "pays." starts at 4/9 of it.
    d.onProgress(report(2, 460));
    expect(d.frame(2.0, 0).viseme).toBe("PP");
    d.onProgress(report(3, 620));
    expect(d.frame(3.0, 0).viseme).toBe("EE");
  });
});
