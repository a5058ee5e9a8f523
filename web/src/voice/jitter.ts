/**
 * The playback jitter buffer: chunks of any size go in, fixed render quanta come out with no gap
 * between chunks. Playback starts once `prebufferSamples` are queued (or the stream has ended),
 * an underrun outputs silence and re-buffers, and `flush` drops everything at once (barge-in).
 * `pause` silences at once but keeps everything (and goes on taking chunks); `resume` plays on
 * from the very next sample (`playback.pause` / `playback.resume`).
 * It also counts what was actually played per message, for the `playback` report.
 */

interface Chunk {
  samples: Float32Array;
  offset: number;
  messageId: string;
}

export interface PlayedReport {
  messageId: string;
  playedSamples: number;
}

export class JitterBuffer {
  private queue: Chunk[] = [];
  private queued = 0;
  private playing = false;
  private ended = false;
  private paused = false;
  underruns = 0;
  received = 0;
  private readonly played = new Map<string, number>();
  /** The message of the last sample played (the avatar's mouth follows it). */
  lastMessageId: string | null = null;

  constructor(private readonly prebufferSamples: number) {}

  get bufferedSamples(): number {
    return this.queued;
  }

  get isPlaying(): boolean {
    return this.playing && !this.paused;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  push(messageId: string, samples: Float32Array): void {
    if (samples.length === 0) return;
    this.queue.push({ samples, offset: 0, messageId });
    this.queued += samples.length;
    this.received += samples.length;
    this.ended = false;
  }

  /** The stream has no more audio for now: play out what is left even below the prebuffer. */
  end(): void {
    this.ended = true;
  }

  flush(): void {
    this.queue = [];
    this.queued = 0;
    this.playing = false;
    this.ended = false;
    this.paused = false;
  }

  /** Fills `out` completely; returns how many samples were real audio (the rest is silence). */
  pull(out: Float32Array): number {
    if (this.paused) {
      out.fill(0);
      return 0; // not an underrun: the silence was asked for
    }
    if (!this.playing) {
      if (this.queued === 0 || (this.queued < this.prebufferSamples && !this.ended)) {
        out.fill(0);
        return 0;
      }
      this.playing = true;
    }
    let written = 0;
    while (written < out.length && this.queue.length > 0) {
      const chunk = this.queue[0]!;
      const take = Math.min(out.length - written, chunk.samples.length - chunk.offset);
      out.set(chunk.samples.subarray(chunk.offset, chunk.offset + take), written);
      chunk.offset += take;
      written += take;
      this.queued -= take;
      this.played.set(chunk.messageId, (this.played.get(chunk.messageId) ?? 0) + take);
      this.lastMessageId = chunk.messageId;
      if (chunk.offset === chunk.samples.length) this.queue.shift();
    }
    if (written < out.length) {
      out.fill(0, written);
      if (!this.ended) this.underruns += 1;
      this.playing = false;
    }
    return written;
  }

  playedSamples(messageId: string): number {
    return this.played.get(messageId) ?? 0;
  }

  report(): PlayedReport[] {
    return [...this.played].map(([messageId, playedSamples]) => ({ messageId, playedSamples }));
  }
}
