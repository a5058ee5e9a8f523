/**
 * Reply playback: chunks (already at the context's rate) go through the jitter buffer and out
 * without gaps; `flush` silences at once (barge-in). Reports what was played, per message.
 */
import { JitterBuffer } from "../jitter";

type Command =
  | { type: "push"; messageId: string; samples: Float32Array }
  | { type: "end" }
  | { type: "flush" }
  | { type: "pause" }
  | { type: "resume" };

const PREBUFFER_MS = 60;
const REPORT_EVERY = Math.round(sampleRate / 10);

class PlaybackProcessor extends AudioWorkletProcessor {
  private readonly buffer = new JitterBuffer(Math.round((sampleRate * PREBUFFER_MS) / 1000));
  private sinceReport = 0;
  private wasPlaying = false;
  private flushes = 0;
  private renderedUntil = 0;
  private reportedCurrent: string | null = null;

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<Command>) => {
      const command = event.data;
      if (command.type === "push") this.buffer.push(command.messageId, command.samples);
      else if (command.type === "end") this.buffer.end();
      else if (command.type === "pause") {
        this.buffer.pause();
        this.report();
      } else if (command.type === "resume") this.buffer.resume();
      else {
        this.buffer.flush();
        this.flushes += 1;
        this.report();
      }
    };
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const output = outputs[0];
    const first = output?.[0];
    if (!output || !first) return true;
    const played = this.buffer.pull(first);
    this.renderedUntil = currentTime + first.length / sampleRate;
    for (let c = 1; c < output.length; c++) output[c]!.set(first);
    this.sinceReport += played;
    const playing = played > 0;
    const was = this.wasPlaying;
    this.wasPlaying = playing;
    // Also at once when audio starts, stops or moves to another message: the lips' anchor.
    if (this.sinceReport >= REPORT_EVERY || was !== playing || this.buffer.lastMessageId !== this.reportedCurrent) this.report();
    return true;
  }

  private report(): void {
    this.sinceReport = 0;
    this.reportedCurrent = this.buffer.lastMessageId;
    this.port.postMessage({
      type: "progress",
      played: this.buffer.report(),
      received: this.buffer.received,
      buffered: this.buffer.bufferedSamples,
      underruns: this.buffer.underruns,
      flushes: this.flushes, // a report with n flushes comes after the n-th flush took effect
      sampleRate,
      // The AudioContext time at which the counts above are complete (the end of the last
      // rendered quantum), and whether audio is flowing: the avatar's lips run on this clock.
      time: this.renderedUntil,
      current: this.buffer.lastMessageId,
      playing: this.wasPlaying && this.buffer.isPlaying,
    });
  }
}

registerProcessor("sparring-playback", PlaybackProcessor);
