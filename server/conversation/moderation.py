"""Flags for an admin's review: abuse or distress in what a user says, and answers that fail
validation (a role-play customer breaking character or coaching, an empty answer)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from server.conversation.models import Mode

_ABUSE = re.compile(r"\b(?:fuck\w*|shit\w*|bitch\w*|asshole\w*|bastard\w*|cunt\w*|moron\w*|idiot\w*|retard\w*|"
                    r"shut up|stupid (?:bot|ai|machine))\b", re.IGNORECASE)
_DISTRESS = re.compile(r"\b(?:kill myself|suicid\w*|end my life|self[- ]harm|want to die|hurt myself|"
                       r"can't go on|no reason to live)\b", re.IGNORECASE)
_BROKE_CHARACTER = re.compile(
    r"\b(?:as an ai|i(?:'m| am) (?:an ai|a bot|an assistant|a language model|just a simulation)|language model|"
    r"chatbot|this (?:role[- ]?play|simulation|exercise)|as your (?:coach|trainer)|"
    r"here(?:'s| is| are) (?:some )?(?:feedback|tips?)|you should (?:try|say|ask|acknowledge)|"
    r"(?:good|great) (?:technique|objection handling))\b", re.IGNORECASE)
MAX_SPOKEN_WORDS = 90


def flag(kind: str, detail: str, message_id: uuid.UUID | None) -> dict[str, Any]:
    return {"kind": kind, "detail": detail, "message_id": str(message_id) if message_id else None,
            "at": datetime.now(UTC).isoformat()}


def check_user_turn(text: str, message_id: uuid.UUID) -> list[dict[str, Any]]:
    flags = []
    if _ABUSE.search(text):
        flags.append(flag("abuse", "abusive language from the user", message_id))
    if _DISTRESS.search(text):
        flags.append(flag("distress", "the user may be in distress", message_id))
    return flags


def check_answer(mode: Mode, text: str, message_id: uuid.UUID | None) -> list[dict[str, Any]]:
    if not text.strip():
        return [flag("invalid_answer", "empty answer", message_id)]
    flags = []
    if mode is Mode.roleplay:
        if match := _BROKE_CHARACTER.search(text):
            flags.append(flag("broke_character", f"customer broke character: {match.group(0)!r}", message_id))
        if len(text.split()) > MAX_SPOKEN_WORDS:
            flags.append(flag("too_long", "customer answer too long to be spoken", message_id))
    return flags
