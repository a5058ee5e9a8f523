import { describe, expect, it } from "vitest";
import { Resampler } from "./resampler";

function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

function rms(x: Float32Array, from = 0): number {
  let s = 0;
  for (let i = from; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (x.length - from));
}

/** Amplitude of `freq` in `x` (single-bin DFT). */
function toneAmplitude(x: Float32Array, freq: number, rate: number, from = 0): number {
  let re = 0;
  let im = 0;
  for (let i = from; i < x.length; i++) {
    re += x[i]! * Math.cos((2 * Math.PI * freq * i) / rate);
    im -= x[i]! * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / (x.length - from);
}

describe("Resampler", () => {
  it("turns 48 kHz into 16 kHz with the expected number of samples", () => {
    const out = new Resampler(48000, 16000).process(sine(440, 48000, 1));
    // The last few samples wait for look-ahead; nothing is lost beyond the filter's half width.
    expect(out.length).toBeGreaterThan(16000 - 10);
    expect(out.length).toBeLessThanOrEqual(16000);
  });

  it("gives the same samples whether fed whole or in odd-sized chunks", () => {
    const input = sine(1000, 44100, 0.5);
    const whole = new Resampler(44100, 16000).process(input);
    const chunked = new Resampler(44100, 16000);
    const parts: number[] = [];
    for (let i = 0; i < input.length; ) {
      const n = 1 + ((i * 7919) % 300);
      parts.push(...chunked.process(input.subarray(i, i + n)));
      i += n;
    }
    expect(parts.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(parts[i]).toBeCloseTo(whole[i]!, 6);
  });

  it("keeps a tone in the pass band at its frequency and level", () => {
    const out = new Resampler(48000, 16000).process(sine(1000, 48000, 0.5));
    expect(toneAmplitude(out, 1000, 16000, 100)).toBeGreaterThan(0.45);
    expect(toneAmplitude(out, 1000, 16000, 100)).toBeLessThan(0.55);
  });

  it("suppresses tones above the new Nyquist frequency instead of aliasing them", () => {
    // 11 kHz at 48 kHz would alias to 5 kHz at 16 kHz without the low-pass filter.
    const out = new Resampler(48000, 16000).process(sine(11000, 48000, 0.5));
    expect(toneAmplitude(out, 5000, 16000, 100)).toBeLessThan(0.01);
    expect(rms(out, 100)).toBeLessThan(0.02);
  });

  it("upsamples 16 kHz speech-band audio to 48 kHz", () => {
    const out = new Resampler(16000, 48000).process(sine(300, 16000, 0.5));
    expect(out.length).toBeGreaterThan(24000 - 60);
    expect(toneAmplitude(out, 300, 48000, 300)).toBeGreaterThan(0.45);
  });

  it("passes DC through at unity gain", () => {
    const out = new Resampler(48000, 16000).process(new Float32Array(4800).fill(0.25));
    expect(out[out.length - 1]).toBeCloseTo(0.25, 4);
  });

  it("rejects impossible rates", () => {
    expect(() => new Resampler(0, 16000)).toThrow(RangeError);
  });
});
