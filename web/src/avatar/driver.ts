/**
 * What the face does, from the voice session's own events: its state (idle, listening while the
 * trainee speaks, thinking from the end of their turn to the first reply audio, speaking while
 * reply audio is heard) and its mouth shape at any moment of the AudioContext clock. Pure logic,
 * no DOM: the drawing (Avatar.tsx) asks `frame()` once per animation frame.
 */

import type { ServerMessage, TimedWord } from "../voice/protocol";
import { PlaybackClock, type PlaybackAnchor } from "./clock";
import { estimateWords, visemeAt, visemeTimeline, type Viseme, type VisemeSpan } from "./visemes";

export type AvatarState = "idle" | "listening" | "thinking" | "speaking";

/** Thinking gives up after this long without reply audio (a noise that was no turn). */
export const THINKING_TIMEOUT_MS = 20000;

interface Reply {
  text: string;
  words: TimedWord[];
  audioMs: number;
  ended: boolean;
  spans: VisemeSpan[] | undefined;
}

export interface AvatarFrame {
  state: AvatarState;
  viseme: Viseme;
  /** ms into the reply being heard (undefined when none is). */
  replyMs: number | undefined;
}

export class AvatarDriver {
  readonly clock = new PlaybackClock();
  private readonly replies = new Map<string, Reply>();
  private hearing = false;
  private thinkingSince: number | undefined;
  /** `playback.pause` until `playback.resume`: the mouth rests at once, whatever the worklet last said. */
  private paused = false;
  /** Interrupted replies: never heard again, even from a progress report already on its way. */
  private readonly cut = new Set<string>();
  /** LiveAvatar mode: no local audio, so "speaking" follows the server's reply events. */
  private remoteSpeaking: string | undefined;

  /** LiveAvatar: the reply is heard through the avatar's video, not the local player. */
  remoteAudio: boolean;

  constructor(remoteAudio = false) {
    this.remoteAudio = remoteAudio;
  }

  private reply(id: string): Reply {
    let r = this.replies.get(id);
    if (!r) {
      r = { text: "", words: [], audioMs: 0, ended: false, spans: undefined };
      this.replies.set(id, r);
    }
    return r;
  }

  /** Every server message of the voice session, as it arrives (`now`: performance.now()). */
  onMessage(m: ServerMessage, now: number): void {
    switch (m.type) {
      case "vad":
        if (m.speaking) this.hearing = true;
        else if (this.hearing) {
          this.hearing = false;
          this.thinkingSince = now;
        }
        break;
      case "transcript":
        // Nothing was said after all (a cough, noise): no reply is coming.
        if (m.final && !m.text.trim()) this.thinkingSince = undefined;
        break;
      case "response.delta": {
        const r = this.reply(m.message_id);
        r.text += m.text;
        if (r.words.length === 0) r.spans = undefined;
        break;
      }
      case "audio.words": {
        const r = this.reply(m.message_id);
        r.words = [...r.words, ...m.words];
        r.spans = undefined;
        if (this.remoteAudio) this.remoteSpeaking = m.message_id;
        break;
      }
      case "audio.start":
        if (this.remoteAudio) this.remoteSpeaking = m.message_id;
        break;
      case "audio.end": {
        const r = this.reply(m.message_id);
        r.ended = true;
        if (r.words.length === 0) r.spans = undefined;
        if (this.remoteSpeaking === m.message_id) this.remoteSpeaking = undefined;
        break;
      }
      case "interrupted":
        this.cut.add(m.message_id);
        this.clock.stop();
        if (this.remoteSpeaking === m.message_id) this.remoteSpeaking = undefined;
        break;
      case "playback.pause":
        this.paused = true;
        this.clock.stop();
        break;
      case "playback.resume":
        this.paused = false;
        break;
      case "session.ended":
        this.hearing = false;
        this.thinkingSince = undefined;
        this.paused = true;
        this.remoteSpeaking = undefined;
        break;
      default:
        break;
    }
  }

  /** The trainee typed a turn: a reply is coming. */
  onTypedTurn(now: number): void {
    this.thinkingSince = now;
  }

  /** Reply audio as it arrives (its length, for timings estimated from the text). */
  onAudio(messageId: string, bytes: number, sampleRate: number): void {
    const r = this.reply(messageId);
    r.audioMs += (bytes / 2 / sampleRate) * 1000;
    if (r.words.length === 0 && r.ended) r.spans = undefined;
  }

  onProgress(report: PlaybackAnchor): void {
    this.clock.update(report);
  }

  private spans(r: Reply): VisemeSpan[] {
    // Word timings when the server sends them; else from the text, stretched over the audio once
    // its length is known (`audio.end`).
    r.spans ??= visemeTimeline(r.words.length > 0 ? r.words : estimateWords(r.text, r.ended ? r.audioMs : undefined));
    return r.spans;
  }

  /** The face at context time `at` (audible now), `now` being performance.now(). */
  frame(at: number, now: number): AvatarFrame {
    const heard = this.clock.current;
    const current = this.paused || (heard !== null && this.cut.has(heard)) ? null : heard;
    const replyMs = current !== null ? this.clock.position(current, at) : undefined;
    const speaking = replyMs !== undefined || (this.remoteAudio && this.remoteSpeaking !== undefined && !this.paused);
    if (speaking) this.thinkingSince = undefined;
    if (this.thinkingSince !== undefined && now - this.thinkingSince > THINKING_TIMEOUT_MS) this.thinkingSince = undefined;
    const state: AvatarState = this.hearing
      ? "listening"
      : speaking
        ? "speaking"
        : this.thinkingSince !== undefined
          ? "thinking"
          : "idle";
    const reply = current !== null ? this.replies.get(current) : undefined;
    const viseme = replyMs !== undefined && reply ? visemeAt(this.spans(reply), replyMs) : "sil";
    return { state, viseme, replyMs };
  }
}
