import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, accessToken } from "../../api/http";
import type { Scorecard as ScorecardData, SessionDetail } from "../../api/types";
import { ResponseTimes } from "../../components/ResponseTimes";
import { ErrorMessage } from "../../components/ui";
import { asApiError } from "../../hooks";
import { AudioEngine, type PlaybackProgress } from "../../voice/audio";
import { VoiceClient, type VoiceState } from "../../voice/client";
import { Notice } from "../../voice/notice";
import { EndReason, VOICE_PATH, type ServerMessage, type TurnMetrics } from "../../voice/protocol";
import { EndedView, Transcript, type PracticeProps, type Turn } from "./TextChat";

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

export default function VoicePanel({ mode, personaId, scenarioId, assignmentId, onLeave }: PracticeProps) {
  const [state, setState] = useState<VoiceState>("idle");
  const [detail, setDetail] = useState<string>();
  const [hearing, setHearing] = useState(false);
  const [level, setLevel] = useState(0);
  const [partial, setPartial] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [metrics, setMetrics] = useState<{ id: string; label: string; metrics: TurnMetrics }[]>([]);
  const [offline, setOffline] = useState<string[]>([]);
  const [playback, setPlayback] = useState<PlaybackProgress>();
  const [error, setError] = useState<string>();
  const [warning, setWarning] = useState<string>();
  const [draft, setDraft] = useState("");
  const [ended, setEnded] = useState<{ scorecard: ScorecardData | null; empty: boolean }>();
  const notice = useRef(new Notice(setError));
  const client = useRef<VoiceClient | undefined>(undefined);
  const engine = useRef<AudioEngine | undefined>(undefined);
  const lastAssistant = useRef<string | undefined>(undefined);

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
    });
    client.current = voice;
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
    voice.on("message", (m) => handle(m));

    (async () => {
      try {
        const audio = await AudioEngine.create();
        if (disposed) return void audio.close();
        engine.current = audio;
        audio.startPlayback((progress) => {
          setPlayback(progress);
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
      setEnded({ scorecard: card.turns > 0 ? card : null, empty: card.turns === 0 });
    } catch (e) {
      notice.current.show(asApiError(e).message);
    }
  }

  function sendText(event: FormEvent) {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    client.current?.sendText(text);
    setTurns((all) => [...all, { id: `typed-${Date.now()}`, role: "user", text }]);
    setDraft("");
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
      <div className="mic" aria-label="Microphone">
        <meter min={0} max={0.3} value={Math.min(level, 0.3)} aria-label="Microphone level" />
        <span data-testid="hearing" className={hearing ? "hearing on" : "hearing"}>
          {hearing ? "Hearing you…" : "Listening"}
        </span>
      </div>
      <Transcript turns={turns} assistantName={mode === "training" ? "Adam" : "Customer"} playedMs={playedByMessage} />
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
