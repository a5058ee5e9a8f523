/**
 * Where the listener is in a reply's audio, on the AudioContext clock the playback worklet runs
 * on. The worklet's progress reports say how much of each message had been rendered by context
 * time `time` (every ~100 ms of audio, and at once when audio starts, stops or changes message);
 * between reports the position runs on with the clock. Asked with the context time that is
 * audible now (`audibleTime`: the output timestamp, so output latency is accounted for), the
 * lips follow the sound, not the render.
 */

import type { PlaybackProgress } from "../voice/audio";

export type PlaybackAnchor = Pick<PlaybackProgress, "played" | "sampleRate" | "buffered" | "time" | "current" | "playing">;

/** How far past its last report the clock runs on before it assumes the reports have stopped. */
const MAX_EXTRAPOLATE_MS = 250;

export class PlaybackClock {
  private anchor: PlaybackAnchor | undefined;

  update(report: PlaybackAnchor): void {
    this.anchor = report;
  }

  /** Forget the anchor (barge-in, pause): nothing is playing until the next report says so. */
  stop(): void {
    if (this.anchor) this.anchor = { ...this.anchor, playing: false };
  }

  /** The message being heard, or null. */
  get current(): string | null {
    return this.anchor?.playing ? this.anchor.current : null;
  }

  /**
   * Milliseconds of `messageId`'s audio heard at context time `at`, or undefined when that
   * message is not playing. Never more than what the worklet held at its report.
   */
  position(messageId: string, at: number): number | undefined {
    const a = this.anchor;
    if (!a?.playing || a.current !== messageId) return undefined;
    const played = a.played.find((p) => p.messageId === messageId)?.playedSamples ?? 0;
    const base = (played / a.sampleRate) * 1000;
    const since = (at - a.time) * 1000;
    const ahead = Math.min(since, MAX_EXTRAPOLATE_MS, (a.buffered / a.sampleRate) * 1000);
    return Math.max(0, base + ahead);
  }
}

/** The AudioContext time being heard now: the output timestamp moved on to this instant. */
export function audibleTime(context: BaseAudioContext & Partial<Pick<AudioContext, "getOutputTimestamp" | "outputLatency" | "baseLatency">>, nowMs = performance.now()): number {
  const stamp = context.getOutputTimestamp?.();
  if (stamp?.contextTime !== undefined && stamp.performanceTime !== undefined && stamp.performanceTime > 0) {
    return stamp.contextTime + (nowMs - stamp.performanceTime) / 1000;
  }
  return context.currentTime - (context.baseLatency ?? 0) - (context.outputLatency ?? 0);
}
