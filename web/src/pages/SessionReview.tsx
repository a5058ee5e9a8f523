import { useEffect, useState } from "react";
import { useLocation, useParams } from "react-router";
import { api } from "../api/http";
import type { ReportIn, SessionDetail } from "../api/types";
import { Backchannels } from "../components/Backchannels";
import { RecordingPlayer } from "../components/RecordingPlayer";
import { ResponseTimes } from "../components/ResponseTimes";
import { Scorecard } from "../components/Scorecard";
import { ScoreReview } from "../components/ScoreReview";
import { Sources } from "../components/Sources";
import { ErrorMessage, formatDate, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { markQuote, messageAnchor, messageIdFromHash } from "../scorecardV2";

/** The message text with the evidence quote marked, when this is the message a link pointed at. */
function MessageText({ text, quote }: { text: string; quote: string | undefined }) {
  if (!quote) return <p>{text}</p>;
  return (
    <p>
      {markQuote(text, quote).map((part, i) => (part.mark ? <mark key={i}>{part.text}</mark> : part.text))}
    </p>
  );
}

function ReportButton({ sessionId, messageId }: { sessionId: string; messageId: string }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string>();
  if (done) return <span className="muted" role="status">{done}</span>;
  if (!open) {
    return (
      <button type="button" className="link" onClick={() => setOpen(true)}>
        Report this answer
      </button>
    );
  }
  return (
    <form
      className="report-form"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const body: ReportIn = { session_id: sessionId, message_id: messageId, reason };
          await api("POST", "/api/v1/reports", { body });
          setDone("Reported. Thank you.");
        } catch (err) {
          setDone(asApiError(err).message);
        }
      }}
    >
      <label>
        What is wrong with this answer?
        <input required maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      <button type="submit">Send report</button>
    </form>
  );
}

export default function SessionReview() {
  const { sessionId = "" } = useParams();
  const session = useResource<SessionDetail>(`/api/v1/sessions/${sessionId}`);
  const data = session.data;
  const messages = data?.messages ?? [];
  // An answer's `timings` are the engine's (first token, total); a voice turn's `metrics` add the
  // speech stages (end of turn, STT, TTS, first audio), which the voice session stores with it.
  // An evidence link (`#message-<id>`, from this page's scorecard or the one shown after a session)
  // scrolls to the quoted message and highlights it; `location.key` repeats it on a second click.
  const location = useLocation();
  const highlighted = messageIdFromHash(location.hash);
  const quote = (location.state as { quote?: string } | null)?.quote;
  useEffect(() => {
    if (!highlighted || !data) return;
    const element = document.getElementById(messageAnchor(highlighted));
    element?.scrollIntoView({ block: "center" });
    element?.focus({ preventScroll: true });
  }, [highlighted, data, location.key]);
  const turns = messages
    .filter((m) => m.role === "assistant")
    .map((m, i) => ({ id: m.id, label: `Reply ${i + 1}`, metrics: { ...m.timings, ...m.metrics } }));

  return (
    <section>
      <PageHeader title="Session review" />
      {session.loading ? <Loading /> : null}
      <ErrorMessage error={session.error} />
      {data ? (
        <div className="stack">
          <p className="muted">
            {data.scenario ? `Scenario: ${data.scenario.spec.title} · ` : null}
            {data.mode === "training" ? `Training with ${data.persona_name}` : `Role-play with ${data.persona_name}`} ·{" "}
            {data.channel} · {formatDate(data.started_at)}
          </p>
          <Scorecard
            scorecard={data.scorecard}
            sessionId={sessionId}
            messages={messages}
            passScore={data.scenario?.spec.pass_score ?? null}
            rubricName={data.scenario?.rubric.name ?? null}
          />
          <ScoreReview session={data} onChange={session.reload} />
          {data.recording_url ? (
            <article className="card">
              <h2>Recording</h2>
              <RecordingPlayer url={data.recording_url} />
            </article>
          ) : null}
          <article className="card">
            <h2>Transcript</h2>
            <ol className="transcript" data-testid="review-transcript">
              {messages.map((m) => (
                <li
                  key={m.id}
                  id={messageAnchor(m.id)}
                  tabIndex={-1}
                  className={`turn turn-${m.role}${m.id === highlighted ? " highlighted" : ""}`}
                  data-message-id={m.id}
                  data-role={m.role}
                  data-highlighted={m.id === highlighted ? "true" : undefined}
                >
                  <span className="speaker">{m.role === "user" ? "Salesperson" : data.persona_name}</span>
                  <MessageText text={m.text} quote={m.id === highlighted ? quote : undefined} />
                  {m.interrupted ? <span className="badge badge-interrupted">interrupted</span> : null}
                  <Backchannels texts={m.backchannels?.map((b) => b.text)} />
                  <Sources sources={m.sources} />
                  {m.role === "assistant" ? <ReportButton sessionId={sessionId} messageId={m.id} /> : null}
                </li>
              ))}
            </ol>
          </article>
          <article className="card">
            <h2>Response times</h2>
            <ResponseTimes turns={turns} />
          </article>
        </div>
      ) : null}
    </section>
  );
}
