import { lazy, Suspense, useEffect, useRef, useState, type FormEvent } from "react";
import { api, accessToken } from "../../api/http";
import type { AnyScorecard as ScorecardData, SessionDetail } from "../../api/types";
import { ResponseTimes } from "../../components/ResponseTimes";
import { TimeLeft } from "../../components/TimeLeft";
import { ErrorMessage, Loading } from "../../components/ui";
import { asApiError } from "../../hooks";
import { AudioEngine, type PlaybackProgress } from "../../voice/audio";
import { VoiceClient, type VoiceState } from "../../voice/client";
import { Notice } from "../../voice/notice";
import { SpeakingClock } from "../../voice/speaking";
import { AvatarErrorCode, EndReason, VOICE_PATH, type ServerMessage, type TurnMetrics } from "../../voice/protocol";
import type { Demeanour, LookId } from "../../avatar/looks";
import type { FaceSource, FaceTaps } from "./FaceToFace";
import { EndedView, Transcript, type PracticeProps, type Turn } from "./TextChat";

/** How often the captions move on while LiveAvatar speaks (the worklet reports every ~100 ms). */
const CAPTION_TICK_MS = 50;

/** Each message's caption position: the local playback's, or the avatar's where it is further on. */
function furthest(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [id, ms] of Object.entries(b)) out[id] = Math.max(out[id] ?? 0, ms);
  return out;
}

// The face (the built-in avatar's drawing, LiveAvatar's video) loads only for face to face.
const FaceToFace = lazy(() => import("./FaceToFace"));

/** Face to face: the same voice session, with a face (`start.avatar`, protocol 1.2). */
export interface FaceSetup {
  look: LookId;
  demeanour: Demeanour;
}

const STATE_TEXT: Record<VoiceState, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  starting: "Starting the session…",
  live: "Live",
  reconnecting: "Connection lost, reconnecting…",
  ending: "Ending…",
  ended: "Session ended",
  failed: "Disconnected",
};

/** Why a session ended, in words (the client's own `end` needs none). */
const END_TEXT: Record<string, string> = {
  [EndReason.clientEnd]: "",
  [EndReason.idle]: "no audio for a while",
  [EndReason.maxDuration]: "the session's time limit was reached",
  [EndReason.timeLimit]: "the scenario's time limit was reached",
  [EndReason.serverShutdown]: "the server restarted",
};

function socketUrl(): string {
  return `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}${VOICE_PATH}`;
}

export default function VoicePanel({ mode, personaId, scenarioId, assignmentId, onLeave, face }: PracticeProps & { face?: FaceSetup }) {
  // A scenario's time limit, from `ready` (the server ends the session when it passes).
  const [deadline, setDeadline] = useState<number>();
  const [state, setState] = useState<VoiceState>("idle");
  const [detail, setDetail] = useState<string>();
  const [hearing, setHearing] = useState(false);
  const [level, setLevel] = useState(0);
  const [partial, setPartial] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [metrics, setMetrics] = useState<{ id: string; label: string; metrics: TurnMetrics }[]>([]);
  const [offline, setOffline] = useState<string[]>([]);
  const [playback, setPlayback] = useState<PlaybackProgress>();
  // LiveAvatar says the reply over its video: the captions run from `avatar.speaking` instead.
  const speaking = useRef(new SpeakingClock());
  const [spoken, setSpoken] = useState<Record<string, number>>({});
  const [error, setError] = useState<string>();
  const [warning, setWarning] = useState<string>();
  const [draft, setDraft] = useState("");
  const [ended, setEnded] = useState<{ scorecard: ScorecardData | null; empty: boolean }>();
  const notice = useRef(new Notice(setError));
  const client = useRef<VoiceClient | undefined>(undefined);
  const engine = useRef<AudioEngine | undefined>(undefined);
  const lastAssistant = useRef<string | undefined>(undefined);
  const [voice, setVoice] = useState<VoiceClient>();
  const [faceSource, setFaceSource] = useState<FaceSource | { provider: "none" }>({ provider: "pending" });
  const [faceNotice, setFaceNotice] = useState<string>();
  const [serverLook, setServerLook] = useState<string>();
  const taps = useRef<FaceTaps>({ progress: new Set(), typed: new Set(), context: () => engine.current?.context });

  useEffect(() => {
    let disposed = false;
    const voice = new VoiceClient({
      url: socketUrl(),
      mode,
      ...(personaId ? { personaId } : {}),
      ...(scenarioId ? { scenarioId } : {}),
      ...(assignmentId ? { assignmentId } : {}),
      outputSampleRate: 24000,
      getToken: accessToken,
      // The photoreal face when the server has it for this dealership; else it answers with the
      // built-in one (`avatar.error` avatar_unavailable, shown as no failure).
      ...(face ? { avatar: "liveavatar" as const } : {}),
    });
    client.current = voice;
    setVoice(voice);
    voice.on("state", (s, d) => {
      setState(s);
      setDetail(s === "ended" && d !== undefined ? (END_TEXT[d] ?? d) : d);
      if (s !== "live") setHearing(false);
    });
    voice.on("audio", (id, pcm, rate) => engine.current?.play(id, pcm, rate));
    voice.on("interrupted", (id, heard) => {
      engine.current?.flush();
      setTurns((all) => all.map((t) => (t.id === id ? { ...t, text: heard || t.text, interrupted: true, streaming: false } : t)));
    });
    voice.on("paused", (_id, paused) => (paused ? engine.current?.pause() : engine.current?.resume()));
    let ticker: number | undefined;
    const tick = () => {
      setSpoken(speaking.current.positions(performance.now()));
      if (!speaking.current.running && ticker !== undefined) {
        window.clearInterval(ticker);
        ticker = undefined;
      }
    };
    voice.on("message", (m) => {
      if (speaking.current.onMessage(m, performance.now())) {
        tick();
        if (speaking.current.running && ticker === undefined) ticker = window.setInterval(tick, CAPTION_TICK_MS);
      }
      handle(m);
    });

    (async () => {
      try {
        const audio = await AudioEngine.create();
        if (disposed) return void audio.close();
        engine.current = audio;
        audio.startPlayback((progress) => {
          setPlayback(progress);
          for (const tap of taps.current.progress) tap(progress);
          for (const p of progress.played) {
            if (p.messageId === lastAssistant.current) voice.reportPlayback(p.messageId, (p.playedSamples / progress.sampleRate) * 1000);
          }
        });
        await audio.startMicrophone(
          (frame) => voice.sendAudio(frame),
          (rms) => setLevel(rms),
        );
      } catch (e) {
        notice.current.show(
          e instanceof DOMException && e.name === "NotAllowedError"
            ? "Microphone access was refused. Allow it in the browser, or type your turns below."
            : `Audio could not start: ${e instanceof Error ? e.message : String(e)}. You can still type.`,
        );
      }
      if (!disposed) voice.connect();
    })();
    return () => {
      disposed = true;
      window.clearInterval(ticker);
      notice.current.dispose();
      voice.end();
      void engine.current?.close();
      engine.current = undefined;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  function upsertAssistant(id: string, change: (t: Turn) => Turn) {
    setTurns((all) => {
      if (all.some((t) => t.id === id)) return all.map((t) => (t.id === id ? change(t) : t));
      return [...all, change({ id, role: "assistant", text: "", streaming: true })];
    });
  }

  function handle(m: ServerMessage) {
    switch (m.type) {
      case "ready":
        setOffline(
          Object.entries(m.offline)
            .filter(([, v]) => v)
            .map(([k]) => {
              const engine = k === "stt" || k === "tts" ? m.providers?.[k] : undefined;
              return engine ? `${k} (${engine})` : k;
            }),
        );
        notice.current.show(undefined);
        setWarning(undefined);
        setDeadline(typeof m.time_left_s === "number" ? Date.now() + m.time_left_s * 1000 : undefined);
        break;
      case "vad":
        setHearing(m.speaking);
        break;
      case "transcript":
        if (m.final) {
          setPartial("");
          if (m.text.trim()) setTurns((all) => [...all, { id: `user-${Date.now()}-${all.length}`, role: "user", text: m.text }]);
        } else setPartial(m.text);
        break;
      case "response.delta":
        lastAssistant.current = m.message_id;
        upsertAssistant(m.message_id, (t) => ({ ...t, text: t.text + m.text }));
        break;
      case "audio.start":
        lastAssistant.current = m.message_id;
        setWarning(undefined); // the late reply has come
        break;
      case "audio.words":
        upsertAssistant(m.message_id, (t) => ({ ...t, words: [...(t.words ?? []), ...m.words] }));
        break;
      case "playback.resume":
        upsertAssistant(m.message_id, (t) => ({ ...t, backchannels: [...(t.backchannels ?? []), m.text ?? ""] }));
        break;
      case "audio.end":
        engine.current?.endOfReply();
        upsertAssistant(m.message_id, (t) => ({ ...t, streaming: false }));
        break;
      case "sources":
        upsertAssistant(m.message_id, (t) => ({ ...t, sources: m.items }));
        break;
      case "metrics":
        setMetrics((all) => [...all.filter((x) => x.id !== m.message_id), { id: m.message_id, label: `Turn ${all.length + 1}`, metrics: m }]);
        break;
      case "error":
        notice.current.serverError(m.code, m.message, m.retryable);
        break;
      case "warning":
        setWarning(m.message);
        break;
      case "avatar.ready":
        setServerLook(m.look); // checked by the face, which knows the looks it draws
        setFaceSource(m.provider === "liveavatar" && m.livekit_url && m.livekit_token
          ? { provider: "liveavatar", url: m.livekit_url, token: m.livekit_token }
          : { provider: m.provider === "none" ? "none" : "builtin" });
        break;
      case "avatar.error":
        setFaceSource({ provider: m.fallback === "builtin" ? "builtin" : "none" });
        // Not offered here is no failure; a photoreal face that failed or a spent quota is said.
        setFaceNotice(m.code === AvatarErrorCode.avatarUnavailable ? undefined : m.message);
        break;
      case "session.ended":
        setHearing(false);
        if (m.session_id) void showEnded(m.session_id);
        break;
    }
  }

  /** The server has ended (and scored) the session before `session.ended`: show what it stored. */
  async function showEnded(sessionId: string) {
    try {
      const detail = await api<SessionDetail>("GET", `/api/v1/sessions/${sessionId}`);
      if (detail.status === "ended") return setEnded({ scorecard: detail.scorecard, empty: detail.message_count === 0 });
      // It could not be ended over there (its error is in the server log): end it here.
      const card = await api<ScorecardData>("POST", `/api/v1/sessions/${sessionId}/end`);
      const empty = card.turns === 0; // a version 2 card may leave the count out: then it had turns
      setEnded({ scorecard: empty ? null : card, empty });
    } catch (e) {
      notice.current.show(asApiError(e).message);
    }
  }

  function sendText(event: FormEvent) {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    client.current?.sendText(text);
    for (const tap of taps.current.typed) tap();
    setTurns((all) => [...all, { id: `typed-${Date.now()}`, role: "user", text }]);
    setDraft("");
  }

  /** The LiveAvatar room failed in the browser: the built-in face from now on, the session resumed for it. */
  function faceFailed(reason: string) {
    setFaceSource({ provider: "builtin" });
    setFaceNotice(`The photoreal avatar stopped (${reason}); you are talking to the built-in avatar now.`);
    client.current?.switchAvatar("builtin");
  }

  const sessionId = client.current?.sessionId;
  if (ended !== undefined && sessionId) return <EndedView sessionId={sessionId} scorecard={ended.scorecard} empty={ended.empty} onLeave={onLeave} />;
  const over = state === "ended" || state === "failed";

  const playedByMessage = Object.fromEntries(
    (playback?.played ?? []).map((p) => [p.messageId, Math.round((p.playedSamples / (playback?.sampleRate ?? 1)) * 1000)]),
  );
  const playedMs = playback ? Math.round((playback.played.reduce((a, p) => a + p.playedSamples, 0) / playback.sampleRate) * 1000) : 0;
  return (
    <div className="voice card" data-state={state}>
      <div className="voice-status" role="status" aria-live="polite">
        <span className={`dot dot-${state}`} aria-hidden="true" />
        <strong data-testid="voice-state">{STATE_TEXT[state]}</strong>
        {detail && state !== "live" ? <span className="muted"> ({detail})</span> : null}
        {offline.length > 0 ? <span className="badge">offline: {offline.join(", ")}</span> : null}
      </div>
      {/* Outside the status line: a live region would read the timer out every second. */}
      {deadline !== undefined && state === "live" ? (
        <p className="row">
          <TimeLeft deadline={deadline} />
        </p>
      ) : null}
      {face && voice && faceSource.provider !== "none" ? (
        <Suspense fallback={<Loading label="Preparing the face…" />}>
          <FaceToFace
            client={voice}
            taps={taps.current}
            look={face.look}
            serverLook={serverLook}
            demeanour={face.demeanour}
            source={faceSource}
            notice={faceNotice}
            onFallback={faceFailed}
            name={mode === "training" ? "Adam" : "Customer"}
          />
        </Suspense>
      ) : face && faceNotice ? (
        <p className="face-notice" role="status" data-testid="avatar-notice">
          {faceNotice}
        </p>
      ) : null}
      <div className="mic" aria-label="Microphone">
        <meter min={0} max={0.3} value={Math.min(level, 0.3)} aria-label="Microphone level" />
        <span data-testid="hearing" className={hearing ? "hearing on" : "hearing"}>
          {hearing ? "Hearing you…" : "Listening"}
        </span>
      </div>
      <Transcript turns={turns} assistantName={mode === "training" ? "Adam" : "Customer"} playedMs={furthest(playedByMessage, spoken)} />
      {partial ? (
        <p className="partial" aria-live="polite" data-testid="partial">
          {partial}…
        </p>
      ) : null}
      <ErrorMessage error={error} />
      {warning ? (
        <p className="muted" role="status" data-testid="voice-warning">
          {warning}
        </p>
      ) : null}
      <form className="composer" onSubmit={sendText}>
        <label className="grow">
          <span className="sr-only">Type a turn instead of speaking</span>
          <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Type instead of speaking" disabled={state !== "live"} />
        </label>
        <button type="submit" disabled={state !== "live" || !draft.trim()}>
          Send
        </button>
      </form>
      <div className="row end">
        <span className="muted playback" data-testid="playback" data-received={playback?.received ?? 0} data-played-ms={playedMs} data-played={JSON.stringify(playedByMessage)}>
          Played {playedMs} ms{playback?.underruns ? ` · ${playback.underruns} underruns` : ""}
        </span>
        <button type="button" className="secondary" onClick={() => client.current?.interrupt()} disabled={state !== "live"}>
          Stop reply
        </button>
        {over ? (
          <button type="button" onClick={onLeave}>
            Practise again
          </button>
        ) : (
          <button type="button" onClick={() => client.current?.end()} disabled={state !== "live"}>
            End session
          </button>
        )}
      </div>
      {metrics.length > 0 ? (
        <section aria-labelledby="turn-metrics" data-testid="metrics">
          <h2 id="turn-metrics">Response times</h2>
          <ResponseTimes turns={metrics} />
        </section>
      ) : null}
    </div>
  );
}
