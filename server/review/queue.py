"""Putting sessions in the review queue and taking them out.

- `on_session_end`: in the transaction that stores the scorecard, a verdict in doubt
  (`confidence.doubts`) opens a `low_confidence` item.
- `sync_flagged`: before the queue is read, every flagged session of the dealership (abuse,
  distress, the customer breaking character) without a `flagged` item gets one: flags are written
  on the chat's hot path (one driver statement per turn), which stays free of queue writes, and
  an ongoing session's flag is seen without waiting for it to end.
- `dispute`: the trainee disputes the score of one of their own scored sessions.
- `resolve`: a manager confirms the score or overrides it (`override`), with a note.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.models import ConversationSession, SessionStatus
from server.errors import Conflict, ValidationFailed
from server.insight import summary
from server.practice import progress
from server.review import confidence
from server.review.models import ReviewItem, ReviewOutcome, ReviewReason, ReviewStatus
from server.training import catalog, scorecard
from server.training.spec import CriterionResult, FrozenScenario, RubricSpec, overall
from server.webhooks import events as webhook_events
from server.webhooks.models import EventType

REVIEW_FLAGS = ("abuse", "distress", "broke_character")


async def _open(db: AsyncSession, session: ConversationSession, reason: ReviewReason, detail: dict[str, Any],
                opened_by: str = "system") -> bool:
    """Open an item unless one is open for this session and reason; True if it was opened."""
    statement = insert(ReviewItem).values(
        id=uuid.uuid4(), dealership_id=session.dealership_id, session_id=session.id, user_id=session.user_id,
        reason=reason, detail=detail, status=ReviewStatus.open, opened_by=opened_by,
    ).on_conflict_do_nothing(index_elements=[ReviewItem.session_id, ReviewItem.reason],
                             index_where=text("status = 'open'")).returning(ReviewItem.id)
    return (await db.execute(statement)).first() is not None


async def on_session_end(db: AsyncSession, session: ConversationSession, card: dict[str, Any] | None) -> None:
    found = confidence.doubts(card)
    if found:
        await _open(db, session, ReviewReason.low_confidence, {"doubts": found})


_SYNC_FLAGGED = text("""
    INSERT INTO review_item (id, dealership_id, session_id, user_id, reason, detail, status, opened_by, created_at)
    SELECT gen_random_uuid(), s.dealership_id, s.id, s.user_id, 'flagged',
           jsonb_build_object('kinds', (SELECT jsonb_agg(DISTINCT f->>'kind') FROM jsonb_array_elements(s.flags) f
                                        WHERE f->>'kind' = ANY(:kinds))),
           'open', 'system', now()
    FROM conversation_session s
    WHERE s.flagged AND s.dealership_id = :dealership_id
      AND EXISTS (SELECT 1 FROM jsonb_array_elements(s.flags) f WHERE f->>'kind' = ANY(:kinds))
      AND NOT EXISTS (SELECT 1 FROM review_item r WHERE r.session_id = s.id AND r.reason = 'flagged')
    ON CONFLICT DO NOTHING
""").bindparams(bindparam("kinds", value=list(REVIEW_FLAGS), type_=ARRAY(String)))


async def sync_flagged(db: AsyncSession, dealership_id: uuid.UUID) -> None:
    await db.execute(_SYNC_FLAGGED, {"dealership_id": dealership_id, "kinds": list(REVIEW_FLAGS)})


async def dispute(db: AsyncSession, session: ConversationSession, reason: str) -> None:
    if session.status is not SessionStatus.ended or not session.scorecard or session.scorecard.get("overall") is None:
        raise Conflict("Only a scored session can be disputed.", code="not_scored")
    score = session.scorecard.get("overall")
    if not await _open(db, session, ReviewReason.dispute, {"reason": reason, "overall": score}, opened_by="trainee"):
        raise Conflict("This session's score is already disputed.", code="dispute_open")


def _rubric(session: ConversationSession) -> RubricSpec:
    if session.scenario:
        return FrozenScenario.model_validate(session.scenario).rubric
    return catalog.general_rubric()


def override(session: ConversationSession, overall_score: int | None, criteria: dict[str, int] | None,
             review: dict[str, Any]) -> dict[str, Any]:
    """The session's scorecard with the manager's scores: criteria re-scored (and `overall`
    recounted from them by the rubric's weights) and/or `overall` set; `passed` follows (the pass
    mark alone: the manager's score is the verdict). The
    judge's result is kept as `original` (the first one, when overridden twice)."""
    card = dict(session.scorecard or {})
    if card.get("version") != 2:
        raise Conflict("Only a version 2 scorecard can be overridden.", code="not_scored")
    results = [CriterionResult.model_validate(c) for c in card.get("criteria") or []]
    if criteria:
        by_key = {r.key: r for r in results}
        rubric = _rubric(session)
        scales = {c.key: c for c in rubric.criteria}
        problems = []
        for key, score in criteria.items():
            if key not in scales:
                problems.append({"field": f"scores.criteria.{key}", "message": "not a criterion of this rubric"})
                continue
            high = by_key[key].max if key in by_key else {"binary": 1, "0-3": 3, "1-5": 5}[scales[key].scale]
            low = 1 if high == 5 else 0
            if not low <= score <= high:
                problems.append({"field": f"scores.criteria.{key}", "message": f"must be {low}-{high}"})
                continue
            if key in by_key:
                by_key[key] = by_key[key].model_copy(update={"score": score})
            else:
                by_key[key] = CriterionResult(key=key, label=scales[key].label, score=score, max=high,
                                              reason="Scored by a manager.")
        if problems:
            raise ValidationFailed(details=problems)
        results = [by_key[c.key] for c in rubric.criteria if c.key in by_key]
        card["criteria"] = [r.model_dump() for r in results]
        card["overall"] = overall(results, rubric)
    if overall_score is not None:
        card["overall"] = overall_score
    # The manager's score is the verdict: it passes at the pass mark, whatever the judge said of the goal.
    card["passed"] = card["overall"] >= int(card.get("pass_score", 70))
    original = session.scorecard or {}
    card["original"] = original.get("original") or {
        "overall": original.get("overall"), "passed": original.get("passed"), "criteria": original.get("criteria")}
    card["review"] = review
    return card


async def resolve(db: AsyncSession, item: ReviewItem, session: ConversationSession, *, outcome: ReviewOutcome,
                  note: str, actor_id: uuid.UUID, overall_score: int | None = None,
                  criteria: dict[str, int] | None = None) -> bool:
    """Resolve `item`; True when the session's score changed (the caller audits and notifies)."""
    if item.status is not ReviewStatus.open:
        raise Conflict("This review is already resolved.", code="review_resolved")
    now = datetime.now(UTC)
    before = (session.scorecard or {}).get("overall")
    item.status, item.outcome, item.note = ReviewStatus.resolved, outcome, note
    item.resolved_by, item.resolved_at, item.original_overall = actor_id, now, before
    if outcome is ReviewOutcome.confirmed:
        item.new_overall = before
        return False
    review = {"outcome": outcome.value, "note": note, "by": str(actor_id), "at": now.isoformat(),
              "review_id": str(item.id)}
    session.scorecard = override(session, overall_score, criteria, review)
    item.new_overall = session.scorecard["overall"]
    await summary.rescore(db, session, session.scorecard)
    await score_changed(db, session, item)
    return True


async def score_changed(db: AsyncSession, session: ConversationSession, item: ReviewItem) -> None:
    """A review changed `session`'s score, in the transaction that stores the change: the
    assignment it counted towards is recounted (a pass can come or go with it), and receivers get
    `scorecard.ready` again with the new scores and `review_id`, sent exactly when this commits."""
    assert session.scorecard is not None
    if session.assignment_id is not None and session.scenario_id is not None:
        await progress.recount(db, session.assignment_id, session.user_id, session.scenario_id, datetime.now(UTC))
    await webhook_events.emit(db, dealership_id=session.dealership_id, type=EventType.scorecard_ready,
                              data={**scorecard.scorecard_event(session, session.scorecard), "review_id": str(item.id)})
