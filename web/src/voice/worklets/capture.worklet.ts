/**
 * Microphone capture: device-rate float audio -> 16 kHz -> 20 ms PCM16 frames, posted to the
 * main thread (transferred, not copied). Also posts the input level for the "hearing you" meter.
 */
import { FrameChunker, INPUT_SAMPLE_RATE } from "../pcm";
import { Resampler } from "../resampler";

class CaptureProcessor extends AudioWorkletProcessor {
  private readonly resampler = new Resampler(sampleRate, INPUT_SAMPLE_RATE);
  private readonly chunker = new FrameChunker();
  private levelSum = 0;
  private levelCount = 0;

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) this.levelSum += channel[i]! * channel[i]!;
    this.levelCount += channel.length;
    for (const frame of this.chunker.push(this.resampler.process(channel))) {
      this.port.postMessage({ type: "frame", frame }, [frame]);
    }
    if (this.levelCount >= sampleRate / 20) {
      this.port.postMessage({ type: "level", rms: Math.sqrt(this.levelSum / this.levelCount) });
      this.levelSum = 0;
      this.levelCount = 0;
    }
    return true;
  }
}

registerProcessor("sparring-capture", CaptureProcessor);
