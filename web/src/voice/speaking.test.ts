import { describe, expect, it } from "vitest";
import type { ServerMessage } from "./protocol";
import { SpeakingClock } from "./speaking";
import { wordAt, wordState } from "./words";

const WORDS = [
  { text: "Monthly", start_ms: 0, end_ms: 420 },
  { text: "payments", start_ms: 480, end_ms: 1000 },
  { text: "matter", start_ms: 1100, end_ms: 1500 },
];

/** A LiveAvatar reply as the browser sees it: its text and words, and no audio of its own. */
function liveAvatarReply(clock: SpeakingClock, id = "m", now = 0): void {
  const send = (m: ServerMessage) => clock.onMessage(m, now);
  send({ type: "response.delta", message_id: id, text: "Monthly payments matter." });
  send({ type: "audio.start", message_id: id, sample_rate: 24000 });
  send({ type: "audio.words", message_id: id, offset_ms: 0, words: WORDS });
}

const states = (ms: number | undefined) => WORDS.map((w) => wordState(w, ms ?? 0));

describe("the caption clock in LiveAvatar mode", () => {
  it("stands still until the avatar starts speaking", () => {
    const clock = new SpeakingClock();
    liveAvatarReply(clock);
    expect(clock.position("m", 5000)).toBeUndefined();
    expect(clock.running).toBe(false);
    expect(clock.positions(5000)).toEqual({});
  });

  it("advances with the wall clock after `avatar.speaking started`, moving the word highlight", () => {
    const clock = new SpeakingClock();
    liveAvatarReply(clock);
    expect(clock.onMessage({ type: "avatar.speaking", message_id: "m", state: "started", at_ms: 0 }, 1000)).toBe(true);
    expect(clock.running).toBe(true);
    expect(clock.position("m", 1000)).toBe(0);
    expect(clock.position("m", 1200)).toBe(200);
    expect(wordAt(WORDS, clock.position("m", 1200)!)).toBe(0);
    expect(states(clock.position("m", 1700))).toEqual(["spoken", "current", "upcoming"]);
    expect(clock.positions(2250)).toEqual({ m: 1250 });
    expect(states(clock.position("m", 2250))).toEqual(["spoken", "spoken", "current"]);
  });

  it("stops at `avatar.speaking ended`: every word spoken, and no further", () => {
    const clock = new SpeakingClock();
    liveAvatarReply(clock);
    clock.onMessage({ type: "avatar.speaking", message_id: "m", state: "started", at_ms: 0 }, 1000);
    // The avatar took a little longer than the wall clock says: `at_ms` is where it ended.
    clock.onMessage({ type: "avatar.speaking", message_id: "m", state: "ended", at_ms: 1520 }, 2400);
    expect(clock.running).toBe(false);
    expect(clock.position("m", 2400)).toBe(1520);
    expect(clock.position("m", 60000)).toBe(1520);
    expect(states(clock.position("m", 60000))).toEqual(["spoken", "spoken", "spoken"]);
  });

  it("stops where it is at `interrupted`: the rest was never heard", () => {
    const clock = new SpeakingClock();
    liveAvatarReply(clock);
    clock.onMessage({ type: "avatar.speaking", message_id: "m", state: "started", at_ms: 0 }, 1000);
    expect(clock.onMessage({ type: "interrupted", message_id: "m", heard_text: "Monthly payments" }, 1700)).toBe(true);
    expect(clock.running).toBe(false);
    expect(clock.position("m", 1700)).toBe(700);
    expect(clock.position("m", 9000)).toBe(700);
    expect(states(clock.position("m", 9000))).toEqual(["spoken", "current", "upcoming"]);
  });

  it("holds over a backchannel pause and runs again from the pause point when the avatar speaks again", () => {
    const clock = new SpeakingClock();
    liveAvatarReply(clock);
    clock.onMessage({ type: "avatar.speaking", message_id: "m", state: "started", at_ms: 0 }, 1000);
    clock.onMessage({ type: "playback.pause", message_id: "m", at_ms: 600 }, 1600);
    expect(clock.running).toBe(false);
    expect(clock.position("m", 3000)).toBe(600);
    // `playback.resume` alone moves nothing: the avatar says the reply again and tells us when.
    expect(clock.onMessage({ type: "playback.resume", message_id: "m", text: "Uh-huh." }, 3000)).toBe(false);
    expect(clock.position("m", 3200)).toBe(600);
    clock.onMessage({ type: "avatar.speaking", message_id: "m", state: "started", at_ms: 590 }, 3400);
    expect(clock.position("m", 3900)).toBe(1090);
  });

  it("follows one reply at a time, and stops when the avatar is lost", () => {
    const clock = new SpeakingClock();
    liveAvatarReply(clock, "a");
    clock.onMessage({ type: "avatar.speaking", message_id: "a", state: "started", at_ms: 0 }, 0);
    liveAvatarReply(clock, "b", 500);
    clock.onMessage({ type: "avatar.speaking", message_id: "b", state: "started", at_ms: 0 }, 500);
    expect(clock.positions(800)).toEqual({ a: 500, b: 300 });
    clock.onMessage({ type: "avatar.error", code: "avatar_dropped", message: "gone", fallback: "builtin" }, 900);
    expect(clock.running).toBe(false);
    expect(clock.positions(5000)).toEqual({ a: 500, b: 400 });
  });
});
