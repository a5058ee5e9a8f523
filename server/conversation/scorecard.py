"""The scorecard a session gets when it ends.

Scores (1-5, each with a line the salesperson actually said as evidence) come from the model's
structured answer when one is configured, checked against the transcript, or from the offline
judgement of the tagged turns (`judgement.py`), which also gives the objection lists and the
summary, so the card cannot contradict itself. Talk ratio, the longest monologue, and for voice
sessions words per minute and filler words, are counted from the transcript itself.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from server.conversation import judgement, prompts
from server.conversation.llm import LLM, LLMError
from server.conversation.models import Channel, ConversationMessage, ConversationSession, MessageRole, Mode
from server.conversation.personas import PersonaView
from server.conversation.taxonomy import Dimension, Objection, Technique

log = logging.getLogger(__name__)
_FILLERS = re.compile(r"\b(?:um+|uh+|erm|hmm+|you know|i mean|sort of|kind of|basically|literally)\b", re.IGNORECASE)
NO_EVIDENCE = ""


class _Turn(BaseModel):
    index: int
    techniques: list[Technique]
    objection: Objection | None


class _Score(BaseModel):
    dimension: Dimension
    score: int = Field(ge=1, le=5)
    evidence: str


class _Answer(BaseModel):
    turns: list[_Turn]
    scores: list[_Score]
    objections_raised: list[Objection]
    objections_resolved: list[Objection]
    summary: str


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict JSON schema mode: every property required, no extra properties."""
    if schema.get("type") == "object" or "properties" in schema:
        schema["additionalProperties"] = False
        schema["required"] = list(schema.get("properties", {}))
    for value in schema.values():
        if isinstance(value, dict):
            strict_schema(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    strict_schema(item)
    return schema


SCHEMA = strict_schema(_Answer.model_json_schema())


async def build(llm: LLM | None, session: ConversationSession,
                messages: list[ConversationMessage]) -> tuple[dict[str, Any], dict[uuid.UUID, dict[str, Any]]]:
    """The scorecard, and new tags for the messages the model re-tagged."""
    card: dict[str, Any] = {"session_id": str(session.id), "mode": session.mode.value,
                            "persona_id": session.persona_id, "turns": len(messages), **_talk(session, messages)}
    if session.mode is not Mode.roleplay:
        return {**card, "generated_by": "offline", "scores": [], "overall": None, "summary": "",
                "objections": {"raised": [], "resolved": [], "unresolved": []}}, {}
    retags: dict[uuid.UUID, dict[str, Any]] = {}
    tags = {m.id: m.tags for m in messages}
    answer: _Answer | None = None
    if llm is not None and messages:
        try:
            answer, retags = await _ask(llm, PersonaView.model_validate(session.persona), messages)
            tags.update(retags)
        except (LLMError, ValidationError) as exc:
            log.warning("scorecard model call failed; scoring offline", extra={"error": str(exc)})
    judged = judgement.judge(messages, tags)
    raised, resolved, scores = judged.raised, judged.resolved, judged.scores()
    if answer is not None:
        raised = [o.value for o in answer.objections_raised] or raised
        resolved = [o.value for o in answer.objections_resolved if o.value in raised]
        scores = _checked(answer, messages, scores)
    # Offline, scores, summary and objection lists all come from the one judgement.
    summary = answer.summary if answer is not None else judgement.summary(scores, raised, resolved)
    overall = round(sum(s["score"] for s in scores) / len(scores), 2)
    return {**card, "generated_by": "llm" if answer is not None else "offline", "scores": scores,
            "overall": overall, "summary": summary,
            "objections": {"raised": raised, "resolved": resolved,
                           "unresolved": [o for o in raised if o not in resolved]}}, retags


async def _ask(llm: LLM, persona: PersonaView,
               messages: list[ConversationMessage]) -> tuple[_Answer, dict[uuid.UUID, dict[str, Any]]]:
    lines = [f"[{i}] {'Salesperson' if m.role is MessageRole.user else 'Customer'}: {m.text}"
             for i, m in enumerate(messages)]
    tmpl, _ = prompts.template("scorecard")
    text = tmpl.safe_substitute(name=persona.name, objections=", ".join(o.value for o in persona.objections),
                                transcript="\n".join(lines))
    data, _usage = await llm.complete_json([{"role": "user", "content": text}], name="scorecard", schema=SCHEMA)
    answer = _Answer.model_validate(data)
    retags: dict[uuid.UUID, dict[str, Any]] = {}
    for turn in answer.turns:
        if 0 <= turn.index < len(messages):
            message = messages[turn.index]
            if message.role is MessageRole.user:
                retags[message.id] = {"techniques": [t.value for t in turn.techniques], "by": "llm"}
            else:
                retags[message.id] = {**message.tags, "objection": turn.objection.value if turn.objection else None,
                                      "by": "llm"}
    return answer, retags


def _checked(answer: _Answer, messages: list[ConversationMessage],
             fallback: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's scores, keeping only evidence that really is a line the salesperson said."""
    said = [(m, " ".join(m.text.lower().split())) for m in messages if m.role is MessageRole.user]
    by_dimension = {s["dimension"]: s for s in fallback}
    result = []
    for score in answer.scores:
        quote = " ".join(score.evidence.lower().split()).strip(" \"'")
        source = next((m for m, text in said if quote and quote in text), None)
        if source is not None:
            result.append({"dimension": score.dimension.value, "score": score.score, "evidence": score.evidence,
                           "message_id": str(source.id)})
        else:
            offline = by_dimension[score.dimension.value]
            result.append({**offline, "score": score.score, "evidence_replaced": bool(score.evidence)})
        by_dimension.pop(score.dimension.value, None)
    result.extend(by_dimension.values())  # dimensions the model left out
    order = [d.value for d in Dimension]
    return sorted(result, key=lambda s: order.index(s["dimension"]))


def _talk(session: ConversationSession, messages: list[ConversationMessage]) -> dict[str, Any]:
    mine = [m for m in messages if m.role is MessageRole.user]
    my_words = sum(len(m.text.split()) for m in mine)
    their_words = sum(len(m.text.split()) for m in messages if m.role is MessageRole.assistant)
    longest = max(mine, key=lambda m: len(m.text.split()), default=None)
    result: dict[str, Any] = {
        "talk_ratio": round(my_words / (my_words + their_words), 3) if my_words + their_words else None,
        "talk_words": {"salesperson": my_words, "customer": their_words},
        "longest_monologue": {"words": len(longest.text.split()), "message_id": str(longest.id)} if longest else None,
        "words_per_minute": None, "filler_words": None, "backchannels": None,
    }
    if session.channel is not Channel.text:
        # The trainee's acknowledgements over the customer's replies ("uh-huh"), stored with each
        # answer by the voice session; a cough (no words) is not one.
        result["backchannels"] = sum(1 for m in messages if m.role is MessageRole.assistant
                                     for b in (m.metrics or {}).get("backchannels", [])
                                     if str(b.get("text", "")).strip())
        speech_ms = sum(float(m.metrics.get("speech_ms", 0)) for m in mine)
        if speech_ms > 0:
            result["words_per_minute"] = round(my_words / (speech_ms / 60000), 1)
        found = [f.lower() for m in mine for f in _FILLERS.findall(m.text)]
        counts: dict[str, int] = {}
        for word in found:
            counts[word] = counts.get(word, 0) + 1
        result["filler_words"] = {"count": len(found), "per_100_words": round(100 * len(found) / my_words, 2)
                                  if my_words else 0.0, "top": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}
    return result


NOTHING_TO_SCORE = "No turns were taken, so there is nothing to score."


def nothing_to_score(session: ConversationSession) -> dict[str, Any]:
    """What ending a session without turns answers: the scorecard's shape, empty. The session
    itself stores no scorecard."""
    return {"session_id": str(session.id), "mode": session.mode.value, "persona_id": session.persona_id,
            "turns": 0, "generated_by": "none", "scores": [], "overall": None, "summary": NOTHING_TO_SCORE,
            "objections": {"raised": [], "resolved": [], "unresolved": []}, "talk_ratio": None,
            "talk_words": {"salesperson": 0, "customer": 0}, "longest_monologue": None,
            "words_per_minute": None, "filler_words": None, "backchannels": None}
