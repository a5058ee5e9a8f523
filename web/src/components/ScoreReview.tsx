/**
 * On a session's review page: what reviews said of its score (a dispute's outcome, a manager's
 * override with the original kept) and, for the trainee's own scored session, "Dispute this score".
 */
import { useState } from "react";
import { api } from "../api/http";
import type { SessionDetail, SessionReview } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { asApiError } from "../hooks";
import { formatDate } from "./ui";

const REASON_LABEL: Record<SessionReview["reason"], string> = {
  dispute: "Your dispute",
  flagged: "Flagged for review",
  low_confidence: "Score checked by a manager",
};

function Outcome({ review }: { review: SessionReview }) {
  if (review.status === "open") {
    return <p>{REASON_LABEL[review.reason]}: waiting for a manager{review.dispute_reason ? ` (“${review.dispute_reason}”)` : ""}.</p>;
  }
  const changed = review.outcome === "overridden";
  return (
    <p>
      {REASON_LABEL[review.reason]}: {changed ? `score changed from ${review.original_overall ?? "—"} to ${review.new_overall ?? "—"}` : "score confirmed"}{" "}
      on {formatDate(review.resolved_at)}
      {review.note ? <>. Manager’s note: <q>{review.note}</q></> : null}
    </p>
  );
}

export function ScoreReview({ session, onChange }: { session: SessionDetail; onChange: () => Promise<void> }) {
  const { user } = useAuth();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string>();
  const reviews = session.reviews ?? [];
  const mine = user?.id === session.user_id;
  const scored = session.status === "ended" && session.overall_score !== null;
  const disputeOpen = reviews.some((r) => r.reason === "dispute" && r.status === "open");
  if (!reviews.length && !(mine && scored)) return null;
  return (
    <article className="card" data-testid="score-review">
      <h2>Score review</h2>
      {reviews.map((r) => (
        <div key={r.id} data-review-id={r.id} data-review-status={r.status} data-review-outcome={r.outcome ?? ""}>
          <Outcome review={r} />
        </div>
      ))}
      {mine && scored && !disputeOpen ? (
        open ? (
          <form
            className="stack"
            onSubmit={async (e) => {
              e.preventDefault();
              setError(undefined);
              try {
                await api("POST", `/api/v1/sessions/${session.id}/dispute`, { body: { reason } });
                setOpen(false);
                await onChange();
              } catch (err) {
                setError(asApiError(err).message);
              }
            }}
          >
            <label>
              Why is the score wrong?
              <textarea required maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} />
            </label>
            <div className="row">
              <button type="submit">Send dispute</button>
              <button type="button" className="secondary" onClick={() => setOpen(false)}>Cancel</button>
            </div>
            {error ? <p role="alert">{error}</p> : null}
          </form>
        ) : (
          <button type="button" onClick={() => setOpen(true)}>Dispute this score</button>
        )
      ) : null}
    </article>
  );
}
