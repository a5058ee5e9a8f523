/**
 * HeyGen LiveAvatar (LITE mode) in the browser: join the LiveKit room the server handed over in
 * `avatar.ready` and show the avatar's video and play its voice. Nothing else: in LITE mode our
 * server drives the avatar (it sends the reply audio to HeyGen), so the browser only watches.
 * `livekit-client` is imported here only, and this module is imported only when LiveAvatar
 * answers, so the built-in avatar's chunk does not carry it.
 */

import { Room, RoomEvent, Track, type RemoteTrack } from "livekit-client";

/** Joining takes longer than this: give up and fall back to the built-in face. */
export const JOIN_TIMEOUT_MS = 15000;

export interface LiveRoom {
  leave(): void;
}

/**
 * Joins the room and attaches the avatar's video to `video` and its audio to `audio`. Resolves
 * once connected; `onFailure` is called (once) if joining fails or the room drops afterwards.
 */
export async function joinLiveAvatar(
  url: string,
  token: string,
  video: HTMLVideoElement,
  audio: HTMLAudioElement,
  onFailure: (reason: string) => void,
): Promise<LiveRoom> {
  const room = new Room({ adaptiveStream: true });
  let left = false;
  let failed = false;
  const fail = (reason: string) => {
    if (left || failed) return;
    failed = true;
    onFailure(reason);
  };
  room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
    if (track.kind === Track.Kind.Video) track.attach(video);
    else if (track.kind === Track.Kind.Audio) track.attach(audio);
  });
  room.on(RoomEvent.Disconnected, () => fail("the avatar's video connection closed"));
  const timer = setTimeout(() => {
    fail("the avatar's video did not connect in time");
    void room.disconnect();
  }, JOIN_TIMEOUT_MS);
  try {
    await room.connect(url, token, { autoSubscribe: true });
  } catch (e) {
    fail(`the avatar's video could not connect (${e instanceof Error ? e.message : String(e)})`);
  } finally {
    clearTimeout(timer);
  }
  return {
    leave() {
      left = true;
      void room.disconnect();
    },
  };
}
