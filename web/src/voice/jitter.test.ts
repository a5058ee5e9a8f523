import { describe, expect, it } from "vitest";
import { JitterBuffer } from "./jitter";

const ramp = (from: number, n: number) => Float32Array.from({ length: n }, (_, i) => from + i);

function drain(buffer: JitterBuffer, quanta: number, size = 128): number[] {
  const out: number[] = [];
  const q = new Float32Array(size);
  for (let i = 0; i < quanta; i++) {
    buffer.pull(q);
    out.push(...q);
  }
  return out;
}

describe("JitterBuffer", () => {
  it("stays silent until the prebuffer is filled", () => {
    const buffer = new JitterBuffer(300);
    buffer.push("m1", ramp(1, 200));
    const q = new Float32Array(128);
    expect(buffer.pull(q)).toBe(0);
    expect([...q].every((v) => v === 0)).toBe(true);
    expect(buffer.isPlaying).toBe(false);
  });

  it("plays chunks of any size back to back with no gap", () => {
    const buffer = new JitterBuffer(256);
    let next = 1;
    for (const size of [100, 37, 250, 1, 400, 92]) {
      buffer.push("m1", ramp(next, size));
      next += size;
    }
    buffer.end();
    const played = drain(buffer, 8).filter((v) => v !== 0);
    expect(played).toEqual([...ramp(1, next - 1)]);
  });

  it("plays a short reply once it has ended even below the prebuffer", () => {
    const buffer = new JitterBuffer(1000);
    buffer.push("m1", ramp(1, 50));
    buffer.end();
    expect(drain(buffer, 1).slice(0, 50)).toEqual([...ramp(1, 50)]);
    expect(buffer.underruns).toBe(0);
  });

  it("counts an underrun and re-buffers when audio arrives late", () => {
    const buffer = new JitterBuffer(128);
    buffer.push("m1", ramp(1, 200));
    drain(buffer, 2);
    expect(buffer.underruns).toBe(1);
    expect(buffer.isPlaying).toBe(false);
    buffer.push("m1", ramp(201, 100));
    const q = new Float32Array(128);
    expect(buffer.pull(q)).toBe(0); // waiting for the prebuffer again
  });

  it("flush drops everything queued at once", () => {
    const buffer = new JitterBuffer(128);
    buffer.push("m1", ramp(1, 1000));
    drain(buffer, 1);
    buffer.flush();
    expect(buffer.bufferedSamples).toBe(0);
    const q = new Float32Array(128);
    expect(buffer.pull(q)).toBe(0);
    expect(buffer.playedSamples("m1")).toBe(128);
  });

  it("reports what was played per message", () => {
    const buffer = new JitterBuffer(1);
    buffer.push("a", ramp(1, 100));
    buffer.push("b", ramp(1, 100));
    drain(buffer, 1, 150);
    expect(buffer.report()).toEqual([
      { messageId: "a", playedSamples: 100 },
      { messageId: "b", playedSamples: 50 },
    ]);
  });

  it("pauses at once keeping everything, and resumes from the very next sample", () => {
    const buffer = new JitterBuffer(128);
    buffer.push("m1", ramp(1, 1000));
    const q = new Float32Array(128);
    expect(buffer.pull(q)).toBe(128); // samples 1..128 played
    buffer.pause();
    expect(buffer.isPaused).toBe(true);
    for (let i = 0; i < 5; i++) {
      expect(buffer.pull(q)).toBe(0); // silent at the very next quantum
      expect([...q].every((v) => v === 0)).toBe(true);
    }
    buffer.push("m1", ramp(1001, 500)); // audio still arriving while paused is kept
    expect(buffer.bufferedSamples).toBe(1500 - 128);
    expect(buffer.underruns).toBe(0); // the pause is no underrun
    expect(buffer.playedSamples("m1")).toBe(128);
    buffer.resume();
    buffer.end();
    const rest = drain(buffer, 12).filter((v) => v !== 0);
    expect(rest).toEqual([...ramp(129, 1500 - 128)]); // nothing lost, nothing played twice
    expect(buffer.playedSamples("m1")).toBe(1500);
  });

  it("a flush also ends a pause", () => {
    const buffer = new JitterBuffer(10);
    buffer.push("m1", ramp(1, 100));
    buffer.pause();
    buffer.flush();
    buffer.push("m2", ramp(1, 100));
    expect(buffer.pull(new Float32Array(50))).toBe(50);
  });
});
