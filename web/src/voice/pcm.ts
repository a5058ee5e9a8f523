/** PCM16 little-endian encoding and fixed-size framing for the voice socket. */

export const INPUT_SAMPLE_RATE = 16000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (INPUT_SAMPLE_RATE * FRAME_MS) / 1000; // 320

/** Float samples in [-1, 1] to PCM16 little-endian bytes (clamped; NaN becomes silence). */
export function encodePcm16(samples: Float32Array): ArrayBuffer {
  const bytes = new ArrayBuffer(samples.length * 2);
  const view = new DataView(bytes);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] ?? 0;
    const clamped = s !== s ? 0 : Math.max(-1, Math.min(1, s));
    view.setInt16(i * 2, Math.round(clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff), true);
  }
  return bytes;
}

/** PCM16 little-endian bytes to float samples. A trailing odd byte is ignored. */
export function decodePcm16(bytes: ArrayBuffer): Float32Array {
  const view = new DataView(bytes);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i++) {
    const v = view.getInt16(i * 2, true);
    out[i] = v < 0 ? v / 0x8000 : v / 0x7fff;
  }
  return out;
}

/** Collects float samples and emits PCM16 frames of exactly `frameSamples` samples. */
export class FrameChunker {
  private pending: Float32Array;
  private filled = 0;

  constructor(private readonly frameSamples: number = FRAME_SAMPLES) {
    this.pending = new Float32Array(frameSamples);
  }

  push(samples: Float32Array): ArrayBuffer[] {
    const frames: ArrayBuffer[] = [];
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(this.frameSamples - this.filled, samples.length - offset);
      this.pending.set(samples.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameSamples) {
        frames.push(encodePcm16(this.pending));
        this.filled = 0;
      }
    }
    return frames;
  }

  reset(): void {
    this.filled = 0;
  }
}
