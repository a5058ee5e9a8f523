/**
 * Streaming band-limited resampler (windowed sinc), used by the capture worklet (device rate ->
 * 16 kHz) and by playback (server rate -> device rate). Its state carries across chunks, so
 * resampling a signal in pieces gives exactly the same samples as resampling it whole.
 */

const PHASES = 64;

export class Resampler {
  private readonly halfTaps: number;
  private readonly table: Float32Array;
  private buffer: Float32Array;
  private length: number;
  /** Output samples produced so far; output n sits at input position n * inRate / outRate. */
  private produced = 0;
  /** Input samples dropped from the front of the buffer (history no longer reachable). */
  private dropped = 0;

  constructor(readonly inRate: number, readonly outRate: number, halfTaps = 16) {
    if (!(Number.isInteger(inRate) && Number.isInteger(outRate) && inRate > 0 && outRate > 0)) {
      throw new RangeError("sample rates must be positive integers");
    }
    this.halfTaps = halfTaps;
    // Cut off a little below the lower Nyquist frequency so that downsampling does not alias.
    const cutoff = Math.min(1, outRate / inRate) * 0.92;
    this.table = kernelTable(halfTaps, cutoff);
    this.buffer = new Float32Array(4096);
    // Start with silence as history so the first output sample is centred on input sample 0.
    this.length = halfTaps;
  }

  process(input: Float32Array): Float32Array {
    this.append(input);
    const halfTaps = this.halfTaps;
    const buf = this.buffer;
    const table = this.table;
    const width = 2 * halfTaps;
    const produced: number[] = [];
    // Positions are kept as exact integer ratios so that chunking never changes the result.
    for (;;) {
      const numerator = this.produced * this.inRate;
      const whole = Math.floor(numerator / this.outRate);
      const base = whole + halfTaps - this.dropped;
      if (base + halfTaps >= this.length) break;
      const frac = (numerator - whole * this.outRate) / this.outRate;
      const row = Math.min(PHASES - 1, Math.round(frac * PHASES)) * width;
      let acc = 0;
      let norm = 0;
      for (let k = 0; k < width; k++) {
        const w = table[row + k] ?? 0;
        acc += (buf[base - halfTaps + 1 + k] ?? 0) * w;
        norm += w;
      }
      produced.push(norm !== 0 ? acc / norm : 0);
      this.produced += 1;
    }
    this.compact();
    return Float32Array.from(produced);
  }

  private append(input: Float32Array): void {
    if (this.length + input.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(this.buffer.length * 2, this.length + input.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(input, this.length);
    this.length += input.length;
  }

  /** Drops input that no future output sample can reach. */
  private compact(): void {
    const next = Math.floor((this.produced * this.inRate) / this.outRate) + this.halfTaps - this.dropped;
    const keepFrom = next - this.halfTaps;
    if (keepFrom <= 0) return;
    this.buffer.copyWithin(0, keepFrom, this.length);
    this.length -= keepFrom;
    this.dropped += keepFrom;
  }
}

/** Kernel values for each fractional phase: taps at offsets -halfTaps+1 .. halfTaps from floor(pos). */
function kernelTable(halfTaps: number, cutoff: number): Float32Array {
  const width = 2 * halfTaps;
  const table = new Float32Array(PHASES * width);
  for (let phase = 0; phase < PHASES; phase++) {
    const frac = phase / PHASES;
    for (let k = 0; k < width; k++) {
      const d = k - halfTaps + 1 - frac; // distance of the tap from the output position
      table[phase * width + k] = cutoff * sinc(cutoff * d) * blackman(d / halfTaps);
    }
  }
  return table;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function blackman(x: number): number {
  // x in [-1, 1]; zero outside.
  if (x <= -1 || x >= 1) return 0;
  const t = (x + 1) / 2;
  return 0.42 - 0.5 * Math.cos(2 * Math.PI * t) + 0.08 * Math.cos(4 * Math.PI * t);
}
