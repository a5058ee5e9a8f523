import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { streamChat } from "../../api/chat";
import { api } from "../../api/http";
import type { Mode, AnyScorecard as ScorecardData, Source } from "../../api/types";
import { Scorecard } from "../../components/Scorecard";
import { Backchannels } from "../../components/Backchannels";
import { Sources } from "../../components/Sources";
import { TimeLeft } from "../../components/TimeLeft";
import { ErrorMessage } from "../../components/ui";
import { asApiError } from "../../hooks";
import type { TimedWord } from "../../voice/protocol";
import { Caption } from "./Caption";

/** The chat's 409 once a scenario's time limit has passed (server/training/turns.py). */
export const TIME_LIMIT_REACHED = "time_limit_reached";

export interface Turn {
  id: string;
  role: "user" | "assistant";
  text: string;
  sources?: Source[];
  streaming?: boolean;
  interrupted?: boolean;
  /** Word timings of a spoken reply (`audio.words`), for captions that follow the playback. */
  words?: TimedWord[];
  /** What the trainee said over this reply without taking the turn ("uh-huh"; "" for a cough). */
  backchannels?: string[];
}

export interface PracticeProps {
  mode: Mode;
  personaId?: string;
  /** A scenario to practise: sent with the first message, which starts the session. */
  scenarioId?: string;
  /** What the other side is called in the transcript. */
  assistantName?: string;
  /** A scenario's time limit, counted from the first message (as the server counts it). */
  timeLimitS?: number | null;
  /** The assignment the session counts towards. */
  assignmentId?: string;
  onLeave: () => void;
}

export function Transcript({ turns, assistantName, playedMs }: { turns: Turn[]; assistantName: string; playedMs?: Record<string, number> }) {
  return (
    <ol className="transcript" aria-live="polite" aria-label="Conversation" data-testid="transcript">
      {turns.map((t) => (
        <li key={t.id} className={`turn turn-${t.role}`} data-role={t.role} data-message-id={t.id} data-streaming={t.streaming ? "true" : undefined}>
          <span className="speaker">{t.role === "user" ? "You" : assistantName}</span>
          <p>
            {t.words?.length ? <Caption text={t.text} words={t.words} playedMs={playedMs?.[t.id] ?? 0} /> : t.text}
            {t.streaming ? <span className="cursor" aria-hidden="true">▍</span> : null}
          </p>
          {t.interrupted ? <span className="badge badge-interrupted" data-testid="interrupted">interrupted</span> : null}
          <Backchannels texts={t.backchannels} />
          <Sources sources={t.sources} />
        </li>
      ))}
    </ol>
  );
}

/** After a session: its scorecard, or (`empty`: it ended before any turn) a plain word that there is nothing to score. */
export function EndedView({ sessionId, scorecard, empty = false, onLeave }: { sessionId: string; scorecard: ScorecardData | null; empty?: boolean; onLeave: () => void }) {
  return (
    <div className="stack">
      {empty ? (
        <p className="card" data-testid="nothing-to-score">
          Session ended. You ended it before taking a turn, so there is nothing to score.
        </p>
      ) : (
        <Scorecard scorecard={scorecard} />
      )}
      <p className="row">
        {empty ? null : <Link to={`/sessions/${sessionId}`}>Review the session</Link>}
        <button type="button" className="secondary" onClick={onLeave}>
          Practise again
        </button>
      </p>
    </div>
  );
}

export function TextChat({ mode, personaId, scenarioId, assignmentId, assistantName, timeLimitS, onLeave }: PracticeProps) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [ended, setEnded] = useState<ScorecardData>();
  const [deadline, setDeadline] = useState<number>();
  const [timeUp, setTimeUp] = useState(false);
  const sessionId = useRef<string | undefined>(undefined);
  const counter = useRef(0);

  function update(id: string, change: (t: Turn) => Turn) {
    setTurns((all) => all.map((t) => (t.id === id ? change(t) : t)));
  }

  async function send(event: FormEvent) {
    event.preventDefault();
    const message = draft.trim();
    if (!message || busy) return;
    setDraft("");
    setError(undefined);
    setBusy(true);
    if (timeLimitS && deadline === undefined) setDeadline(Date.now() + timeLimitS * 1000);
    const n = ++counter.current;
    let replyId = `pending-${n}`;
    setTurns((all) => [...all, { id: `user-${n}`, role: "user", text: message }, { id: replyId, role: "assistant", text: "", streaming: true }]);
    try {
      await streamChat(
        {
          message,
          mode,
          ...(personaId ? { persona_id: personaId } : {}),
          ...(sessionId.current
            ? { session_id: sessionId.current }
            : { ...(scenarioId ? { scenario_id: scenarioId } : {}), ...(assignmentId ? { assignment_id: assignmentId } : {}) }),
        },
        {
          delta: (text) => update(replyId, (t) => ({ ...t, text: t.text + text })),
          sources: (sources) => update(replyId, (t) => ({ ...t, sources })),
          done: (result) => {
            sessionId.current = result.session_id;
            update(replyId, (t) => ({ ...t, id: result.message_id, streaming: false }));
            replyId = result.message_id;
          },
        },
      );
    } catch (e) {
      const error = asApiError(e);
      // The scenario's time has run out on the server's clock: the session is scored as it stands.
      if (error.code === TIME_LIMIT_REACHED) setTimeUp(true);
      setError(error.message);
      update(replyId, (t) => ({ ...t, streaming: false }));
    } finally {
      setBusy(false);
    }
  }

  async function end() {
    if (!sessionId.current) return onLeave();
    try {
      setEnded(await api<ScorecardData>("POST", `/api/v1/sessions/${sessionId.current}/end`));
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  useEffect(() => {
    // Time is up: once the reply in flight has arrived, end the session and show its scorecard.
    if (timeUp && !busy && !ended && sessionId.current) void end();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [timeUp, busy]);

  const name = assistantName ?? (mode === "training" ? "Adam" : "Customer");
  if (ended && sessionId.current) return <EndedView sessionId={sessionId.current} scorecard={ended} onLeave={onLeave} />;
  return (
    <div className="chat card">
      {deadline !== undefined ? (
        <p className="row">
          <TimeLeft deadline={deadline} onExpire={() => setTimeUp(true)} />
        </p>
      ) : timeLimitS ? (
        <p className="muted small">You have {Math.round(timeLimitS / 60)} minutes from your first message.</p>
      ) : null}
      <Transcript turns={turns} assistantName={name} />
      <ErrorMessage error={error} />
      <form className="composer" onSubmit={send}>
        <label className="grow">
          <span className="sr-only">Your message</span>
          <textarea
            rows={2}
            maxLength={5000}
            placeholder={mode === "training" ? "Ask Adam, e.g. “The customer says the payment is too high”" : "Say something to the customer"}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                e.currentTarget.form?.requestSubmit();
              }
            }}
          />
        </label>
        <button type="submit" disabled={busy || timeUp || !draft.trim()}>
          {busy ? "Answering…" : "Send"}
        </button>
      </form>
      <div className="row end">
        <button type="button" className="secondary" onClick={end} disabled={busy}>
          End session
        </button>
      </div>
    </div>
  );
}
