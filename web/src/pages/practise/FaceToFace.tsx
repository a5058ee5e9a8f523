/**
 * The face-to-face stage of a voice session (lazy-loaded: the avatar's own chunk). It listens to
 * the voice panel's session (the same VoiceClient, the same playback worklet): the built-in face
 * follows the session's events and the worklet's clock; LiveAvatar's face comes as video from its
 * LiveKit room, and any failure there falls back to the built-in face (`onFallback`).
 */

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Avatar } from "../../avatar/Avatar";
import { audibleTime, type PlaybackAnchor } from "../../avatar/clock";
import { AvatarDriver } from "../../avatar/driver";
import type { LiveRoom } from "../../avatar/liveavatar";
import { isLook, type Demeanour, type LookId } from "../../avatar/looks";
import type { VoiceClient } from "../../voice/client";

/** What the voice panel lets the face listen to, besides the client's own events. */
export interface FaceTaps {
  progress: Set<(report: PlaybackAnchor) => void>;
  typed: Set<() => void>;
  context: () => AudioContext | undefined;
}

/** The face the session shows now: what `avatar.ready` said, or the built-in one after a fallback. */
export type FaceSource =
  | { provider: "pending" }
  | { provider: "builtin" }
  | { provider: "liveavatar"; url: string; token: string };

export interface FaceToFaceProps {
  client: VoiceClient;
  taps: FaceTaps;
  look: LookId;
  /** The persona's look as the server says (`avatar.ready.look`); it wins when it is one we draw. */
  serverLook: string | undefined;
  demeanour: Demeanour;
  source: FaceSource;
  /** The short line shown after a fallback ("The photoreal avatar could not start…"). */
  notice: string | undefined;
  onFallback: (reason: string) => void;
  name: string;
}

export default function FaceToFace({ client, taps, look, serverLook, demeanour, source, notice, onFallback, name }: FaceToFaceProps) {
  const shown = isLook(serverLook) ? serverLook : look;
  const driver = useMemo(() => new AvatarDriver(), []);
  driver.remoteAudio = source.provider === "liveavatar";

  useEffect(() => {
    const now = () => performance.now();
    const off = [
      client.on("message", (m) => driver.onMessage(m, now())),
      client.on("audio", (id, pcm, rate) => driver.onAudio(id, pcm.byteLength, rate)),
    ];
    const progress = (r: PlaybackAnchor) => driver.onProgress(r);
    const typed = () => driver.onTypedTurn(now());
    taps.progress.add(progress);
    taps.typed.add(typed);
    return () => {
      off.forEach((f) => f());
      taps.progress.delete(progress);
      taps.typed.delete(typed);
    };
  }, [client, taps, driver]);

  const frame = useCallback((now: number) => {
    const context = taps.context();
    return driver.frame(context ? audibleTime(context, now) : 0, now);
  }, [driver, taps]);

  return (
    <div className="face" data-testid="face" data-provider={source.provider}>
      {source.provider === "liveavatar" ? (
        <LiveVideo url={source.url} token={source.token} onFailure={onFallback} name={name} />
      ) : (
        <Avatar look={shown} demeanour={demeanour} frame={frame} label={`${name}, face to face`} />
      )}
      {notice ? (
        <p className="face-notice" role="status" data-testid="avatar-notice">
          {notice}
        </p>
      ) : null}
    </div>
  );
}

function LiveVideo({ url, token, onFailure, name }: { url: string; token: string; onFailure: (reason: string) => void; name: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const [joined, setJoined] = useState(false);
  const failure = useRef(onFailure);
  failure.current = onFailure;

  useEffect(() => {
    let room: LiveRoom | undefined;
    let gone = false;
    (async () => {
      try {
        const { joinLiveAvatar } = await import("../../avatar/liveavatar");
        if (gone || !video.current || !audio.current) return;
        room = await joinLiveAvatar(url, token, video.current, audio.current, (reason) => failure.current(reason));
        if (gone) room.leave();
        else setJoined(true);
      } catch (e) {
        if (!gone) failure.current(`the avatar's video could not load (${e instanceof Error ? e.message : String(e)})`);
      }
    })();
    return () => {
      gone = true;
      room?.leave();
    };
  }, [url, token]);

  return (
    <div className="live-avatar" data-testid="live-avatar" data-joined={joined ? "true" : "false"}>
      <video ref={video} autoPlay playsInline muted aria-label={`${name}, face to face`} />
      <audio ref={audio} autoPlay />
      {joined ? null : <p className="muted">Connecting the video…</p>}
    </div>
  );
}
