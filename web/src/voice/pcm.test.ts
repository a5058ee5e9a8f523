import { describe, expect, it } from "vitest";
import { decodePcm16, encodePcm16, FRAME_SAMPLES, FrameChunker } from "./pcm";

describe("PCM16 encoding", () => {
  it("writes little-endian 16-bit samples with full-scale limits", () => {
    const bytes = new Uint8Array(encodePcm16(Float32Array.from([0, 1, -1, 0.5])));
    expect([...bytes]).toEqual([0x00, 0x00, 0xff, 0x7f, 0x00, 0x80, 0x00, 0x40]);
  });

  it("clamps out-of-range values and turns NaN into silence", () => {
    const view = new DataView(encodePcm16(Float32Array.from([2, -3, Number.NaN])));
    expect(view.getInt16(0, true)).toBe(32767);
    expect(view.getInt16(2, true)).toBe(-32768);
    expect(view.getInt16(4, true)).toBe(0);
  });

  it("round-trips within one quantisation step", () => {
    const input = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i / 7) * 0.9);
    const output = decodePcm16(encodePcm16(input));
    for (let i = 0; i < input.length; i++) expect(Math.abs(output[i]! - input[i]!)).toBeLessThan(1 / 32767);
  });

  it("ignores a trailing odd byte", () => {
    expect(decodePcm16(new ArrayBuffer(5)).length).toBe(2);
  });
});

describe("FrameChunker", () => {
  it("emits 20 ms frames of 320 samples (640 bytes) regardless of input sizes", () => {
    const chunker = new FrameChunker();
    const frames: ArrayBuffer[] = [];
    let total = 0;
    for (const size of [128, 128, 100, 7, 500, 1, 960]) {
      total += size;
      frames.push(...chunker.push(new Float32Array(size).fill(0.1)));
    }
    expect(FRAME_SAMPLES).toBe(320);
    expect(frames.length).toBe(Math.floor(total / 320));
    for (const frame of frames) expect(frame.byteLength).toBe(640);
  });

  it("keeps sample order across frame boundaries", () => {
    const chunker = new FrameChunker(4);
    const values = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    const frames = [...chunker.push(values.subarray(0, 3)), ...chunker.push(values.subarray(3))];
    const decoded = frames.flatMap((f) => [...decodePcm16(f)]);
    decoded.forEach((v, i) => expect(v).toBeCloseTo(values[i]!, 4));
  });
});
