/**
 * The caption clock in LiveAvatar mode. There the reply's voice comes over the avatar's video, not
 * the local playback worklet, so the worklet's positions never move; instead the server says when
 * the avatar starts and stops saying a reply (`avatar.speaking`, protocol 1.2) and the position in
 * that reply runs on the wall clock in between. It gives the same "ms of the message's audio" the
 * worklet gives, so the one caption code (`Caption`, `words.ts`) highlights the words.
 *
 * - `avatar.speaking started {at_ms}`: runs from `at_ms` (0; after a backchannel, the pause point).
 * - `avatar.speaking ended {at_ms}`: stops there (the end of the reply: every word spoken).
 * - `interrupted`: stops where it is (the rest was never heard).
 * - `playback.pause`: holds where it is; after `playback.resume` the avatar says the reply again
 *   from the pause point, and its `started` runs the clock again.
 * - `avatar.error` (the avatar is gone) and `session.ended`: everything stops where it is.
 */

import type { ServerMessage } from "./protocol";

interface Anchor {
  /** ms of the message's audio at `since` (or for good, when `since` is undefined). */
  ms: number;
  /** When (performance.now()) the avatar was last heard saying it from `ms`; undefined: held. */
  since: number | undefined;
}

export class SpeakingClock {
  private readonly anchors = new Map<string, Anchor>();

  /** Every server message of the voice session, as it arrives (`now`: performance.now()); true
   *  when a position started, stopped or moved. */
  onMessage(m: ServerMessage, now: number): boolean {
    switch (m.type) {
      case "avatar.speaking":
        if (m.state === "started") {
          this.holdAll(now); // one reply at a time: whatever was said before is over
          this.anchors.set(m.message_id, { ms: m.at_ms ?? 0, since: now });
        } else {
          this.anchors.set(m.message_id, { ms: m.at_ms ?? this.position(m.message_id, now) ?? 0, since: undefined });
        }
        return true;
      case "interrupted":
      case "playback.pause":
        return this.hold(m.message_id, now);
      case "avatar.error":
      case "session.ended":
        return this.holdAll(now);
      default:
        return false;
    }
  }

  /** ms of `messageId`'s audio the avatar has said by `now`, or undefined when it never said any. */
  position(messageId: string, now: number): number | undefined {
    const a = this.anchors.get(messageId);
    if (!a) return undefined;
    return a.since === undefined ? a.ms : a.ms + Math.max(0, now - a.since);
  }

  /** Every message's position at `now`, in whole ms (the captions' `playedMs`). */
  positions(now: number): Record<string, number> {
    return Object.fromEntries([...this.anchors.keys()].map((id) => [id, Math.round(this.position(id, now) ?? 0)]));
  }

  /** Whether a position is moving (the caller redraws the captions while it is). */
  get running(): boolean {
    return [...this.anchors.values()].some((a) => a.since !== undefined);
  }

  private hold(messageId: string, now: number): boolean {
    const a = this.anchors.get(messageId);
    if (a?.since === undefined) return false;
    this.anchors.set(messageId, { ms: a.ms + Math.max(0, now - a.since), since: undefined });
    return true;
  }

  private holdAll(now: number): boolean {
    let held = false;
    for (const id of this.anchors.keys()) held = this.hold(id, now) || held;
    return held;
  }
}
