/** Browser audio: the microphone (capture worklet) and the reply player (playback worklet). */
import captureUrl from "./worklets/capture.worklet.ts?worker&url";
import playbackUrl from "./worklets/playback.worklet.ts?worker&url";
import { decodePcm16 } from "./pcm";
import { Resampler } from "./resampler";
import type { PlayedReport } from "./jitter";

export const MIC_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
  channelCount: 1,
};

export interface PlaybackProgress {
  played: PlayedReport[];
  received: number;
  buffered: number;
  underruns: number;
  flushes: number;
  sampleRate: number;
  /** AudioContext time at which `played` is complete (the end of the last rendered quantum). */
  time: number;
  /** The message of the last sample played, and whether audio was flowing then. */
  current: string | null;
  playing: boolean;
}

export class AudioEngine {
  readonly context: AudioContext;
  private stream: MediaStream | undefined;
  private capture: AudioWorkletNode | undefined;
  private playback: AudioWorkletNode | undefined;
  private resamplers = new Map<number, Resampler>();

  private constructor(context: AudioContext) {
    this.context = context;
  }

  static async create(): Promise<AudioEngine> {
    const context = new AudioContext({ latencyHint: "interactive" });
    await Promise.all([context.audioWorklet.addModule(captureUrl), context.audioWorklet.addModule(playbackUrl)]);
    return new AudioEngine(context);
  }

  async startMicrophone(onFrame: (frame: ArrayBuffer) => void, onLevel: (rms: number) => void): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
    const source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, "sparring-capture", { numberOfInputs: 1, numberOfOutputs: 0 });
    this.capture.port.onmessage = (event: MessageEvent<{ type: string; frame?: ArrayBuffer; rms?: number }>) => {
      if (event.data.type === "frame" && event.data.frame) onFrame(event.data.frame);
      else if (event.data.type === "level") onLevel(event.data.rms ?? 0);
    };
    source.connect(this.capture);
    await this.context.resume();
  }

  startPlayback(onProgress: (progress: PlaybackProgress) => void): void {
    this.playback = new AudioWorkletNode(this.context, "sparring-playback", { outputChannelCount: [1] });
    this.playback.port.onmessage = (event: MessageEvent<PlaybackProgress & { type: string }>) => {
      if (event.data.type === "progress") onProgress(event.data);
    };
    this.playback.connect(this.context.destination);
  }

  /** PCM16 at the server's rate -> the context's rate -> the playback worklet. */
  play(messageId: string, pcm: ArrayBuffer, sampleRate: number): void {
    if (!this.playback) return;
    let resampler = this.resamplers.get(sampleRate);
    if (!resampler) {
      resampler = new Resampler(sampleRate, this.context.sampleRate);
      this.resamplers.set(sampleRate, resampler);
    }
    const samples = resampler.process(decodePcm16(pcm));
    this.playback.port.postMessage({ type: "push", messageId, samples }, [samples.buffer]);
  }

  endOfReply(): void {
    this.playback?.port.postMessage({ type: "end" });
  }

  /** Barge-in: drop everything queued, at once. */
  flush(): void {
    this.playback?.port.postMessage({ type: "flush" });
    this.resamplers.clear();
  }

  /** `playback.pause`: silent at once, the buffered audio kept. */
  pause(): void {
    this.playback?.port.postMessage({ type: "pause" });
  }

  /** `playback.resume`: play on from where it paused. */
  resume(): void {
    this.playback?.port.postMessage({ type: "resume" });
  }

  async close(): Promise<void> {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.capture?.disconnect();
    this.playback?.disconnect();
    await this.context.close();
  }
}
