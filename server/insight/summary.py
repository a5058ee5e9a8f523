"""The per-session summary row (`SessionInsight`), written when a session ends and when a review
changes its score, always in the same transaction as the scorecard it summarises."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.models import ConversationSession
from server.conversation.taxonomy import Objection
from server.insight.models import SessionInsight

_OBJECTIONS = {o.value for o in Objection}


def objection_types(scenario: dict[str, Any] | None, persona: dict[str, Any]) -> list[str]:
    """What a session practised: its scenario's objections (the frozen copy), or, without a
    scenario, its persona's (the copy the session keeps); only the taxonomy's values, in order."""
    source = scenario["spec"].get("objections", []) if scenario else persona.get("objections", [])
    return [o for o in dict.fromkeys(source) if o in _OBJECTIONS]


def practice_of(session: ConversationSession) -> tuple[str, str]:
    if session.scenario_id and session.scenario:
        return session.scenario_id, str(session.scenario["spec"].get("title", session.scenario_id))[:200]
    return f"persona:{session.persona_id}"[:80], str(session.persona.get("name", session.persona_id))[:200]


def _score(card: dict[str, Any]) -> tuple[float | None, bool | None]:
    overall = card.get("overall")
    return (float(overall) if overall is not None else None), card.get("passed")


async def record(db: AsyncSession, session: ConversationSession, card: dict[str, Any]) -> None:
    """Insert (or replace) the session's summary row. Practice time is from the start to the last
    turn: a session left open before it was ended does not count its idle tail."""
    key, label = practice_of(session)
    overall, passed = _score(card)
    duration = max(0, round((session.last_activity_at - session.started_at).total_seconds()))
    values = {"session_id": session.id, "dealership_id": session.dealership_id, "user_id": session.user_id,
              "practice_key": key, "practice_label": label,
              "objections": objection_types(session.scenario, session.persona),
              "started_at": session.started_at, "duration_s": duration, "overall": overall, "passed": passed}
    statement = insert(SessionInsight).values(**values)
    await db.execute(statement.on_conflict_do_update(
        index_elements=[SessionInsight.session_id],
        set_={name: statement.excluded[name] for name in values if name != "session_id"}))


async def rescore(db: AsyncSession, session: ConversationSession, card: dict[str, Any]) -> None:
    """A review changed the session's score: the summary follows."""
    overall, passed = _score(card)
    await db.execute(update(SessionInsight).where(SessionInsight.session_id == session.id)
                     .values(overall=overall, passed=passed))
