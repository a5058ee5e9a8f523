/** The review queue: sessions that need a manager (flagged, a score in doubt, a trainee's dispute). */
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/http";
import type { Review, ReviewList, ReviewResolve, SessionDetail } from "../api/types";
import { ErrorMessage, formatDate, Loading, PageHeader } from "../components/ui";
import { asApiError, useResource } from "../hooks";
import { isV2, scaleLow } from "../scorecardV2";

const REASON: Record<Review["reason"], string> = {
  flagged: "Flagged",
  low_confidence: "Score in doubt",
  dispute: "Disputed by the trainee",
};

function why(review: Review): string {
  const d = review.detail as { kinds?: string[]; doubts?: string[]; reason?: string };
  if (review.reason === "flagged") return (d.kinds ?? []).join(", ").replaceAll("_", " ");
  if (review.reason === "low_confidence") return (d.doubts ?? []).join(", ").replaceAll("_", " ");
  return d.reason ?? "";
}

/**
 * The session's rubric criteria with their scores, each editable on its own scale: loaded when the
 * manager opens "Rescore by criterion" (the server recounts the overall by the rubric's weights).
 */
function CriterionScores({ sessionId, values, onChange }: {
  sessionId: string; values: Record<string, string>; onChange: (key: string, value: string) => void;
}) {
  const session = useResource<SessionDetail>(`/api/v1/sessions/${sessionId}`);
  const card = session.data?.scorecard;
  if (session.error) return <ErrorMessage error={session.error} />;
  if (!card) return session.loading ? <Loading /> : null;
  const criteria = isV2(card) ? card.criteria : [];
  if (criteria.length === 0) return <p className="muted small">This scorecard has no criteria: override the overall score.</p>;
  return (
    <div className="stack" data-testid="criterion-scores">
      {criteria.map((c) => (
        <label key={c.key}>
          {c.label} ({scaleLow(c)}-{c.max})
          <input type="number" min={scaleLow(c)} max={c.max} value={values[c.key] ?? String(c.score)}
            onChange={(e) => onChange(c.key, e.target.value)} />
        </label>
      ))}
    </div>
  );
}

function ReviewRow({ review, onChange }: { review: Review; onChange: () => Promise<void> }) {
  const [note, setNote] = useState("");
  const [overall, setOverall] = useState("");
  const [byCriterion, setByCriterion] = useState(false);
  // Only criteria the manager changed are sent; the others keep the judge's score.
  const [criteria, setCriteria] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const changed = Object.entries(criteria).filter(([, value]) => value !== "");

  async function resolve(outcome: ReviewResolve["outcome"]) {
    setError(undefined);
    const scores = {
      overall: overall === "" ? null : Number(overall),
      criteria: changed.length ? Object.fromEntries(changed.map(([key, value]) => [key, Number(value)])) : null,
    };
    const body: ReviewResolve = { outcome, note: note.trim(), scores: outcome === "overridden" ? scores : null };
    try {
      await api("POST", `/api/v1/reviews/${review.id}/resolve`, { body });
      await onChange();
    } catch (e) {
      setError(asApiError(e).message);
    }
  }

  const open = review.status === "open";
  return (
    <tr data-review-id={review.id} data-reason={review.reason} data-session-id={review.session_id}>
      <td>{formatDate(review.created_at)}</td>
      <td>{review.user_name}</td>
      <td>
        <strong>{REASON[review.reason]}</strong>
        <p className="muted small">{why(review)}</p>
      </td>
      <td>
        <Link to={review.session_url}>
          {review.scenario_title ?? `Session with ${review.persona_name}`}: read the transcript
        </Link>
      </td>
      <td data-testid="review-score">{review.overall_score ?? "—"}{review.passed === null ? "" : review.passed ? " (passed)" : " (not passed)"}</td>
      <td className="report-actions">
        {open ? (
          <form className="stack" onSubmit={(e) => e.preventDefault()}>
            <label>
              Note (required)
              <input required maxLength={2000} value={note} onChange={(e) => setNote(e.target.value)} />
            </label>
            <label>
              New score (0-100, to override)
              <input type="number" min={0} max={100} value={overall} onChange={(e) => setOverall(e.target.value)} />
            </label>
            <details onToggle={(e) => setByCriterion(e.currentTarget.open)}>
              <summary>Rescore by criterion</summary>
              {byCriterion ? (
                <CriterionScores sessionId={review.session_id} values={criteria}
                  onChange={(key, value) => setCriteria((old) => ({ ...old, [key]: value }))} />
              ) : null}
            </details>
            <div className="row">
              <button type="button" disabled={!note.trim()} onClick={() => resolve("confirmed")}>Confirm score</button>
              <button type="button" className="secondary" disabled={!note.trim() || (overall === "" && changed.length === 0)}
                onClick={() => resolve("overridden")}>Override score</button>
            </div>
            <ErrorMessage error={error} />
          </form>
        ) : (
          <p className="muted small">
            {review.outcome === "overridden" ? `Overridden ${review.original_overall} → ${review.new_overall}` : "Confirmed"}
            {review.note ? `: ${review.note}` : ""} ({formatDate(review.resolved_at)})
          </p>
        )}
      </td>
    </tr>
  );
}

export default function ReviewQueue() {
  const [status, setStatus] = useState<"open" | "resolved">("open");
  const list = useResource<ReviewList>("/api/v1/reviews", { status });
  const items = list.data?.items ?? [];
  return (
    <section>
      <PageHeader title="Review queue">
        <label>
          Show{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value as "open" | "resolved")}>
            <option value="open">Open</option>
            <option value="resolved">Resolved</option>
          </select>
        </label>
      </PageHeader>
      <p className="muted">Sessions that need a manager: flagged conversations, scores the judge was unsure of, and scores trainees dispute.</p>
      <ErrorMessage error={list.error} title="The queue could not be loaded" />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && items.length === 0 ? <p className="muted">Nothing to review.</p> : null}
      {items.length > 0 ? (
        <div className="table-wrap card">
          <table data-testid="reviews">
            <caption className="sr-only">Review queue</caption>
            <thead>
              <tr>
                <th scope="col">Since</th>
                <th scope="col">Trainee</th>
                <th scope="col">Why</th>
                <th scope="col">Session</th>
                <th scope="col">Score</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => <ReviewRow key={r.id} review={r} onChange={list.reload} />)}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
