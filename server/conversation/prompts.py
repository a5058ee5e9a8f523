"""Prompt templates (files in `prompts/`, versioned with the code) and their rendering.

A template is rendered with the persona and the retrieved passages; the history that follows
is trimmed, newest first, to a token budget. Each rendering carries the template's version (a
short hash of its text), stored with the message it produced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from server.conversation.grounding import Passage
from server.conversation.llm import ChatTurn
from server.conversation.personas import PersonaView
from server.conversation.taxonomy import OBJECTION_LABELS
from server.conversation.usage import estimate_tokens

_DIFFICULTY_RULES = {
    "easy": "you are easy to persuade once you feel heard.",
    "medium": "you need both empathy and a concrete reason before you move on.",
    "hard": "you push back at least once on every objection, even after a good answer.",
}


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    version: str


@cache
def template(name: str) -> tuple[Template, str]:
    source = resources.files("server.conversation").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")
    return Template(source), hashlib.sha256(source.encode()).hexdigest()[:12]


def passages_block(passages: list[Passage]) -> str:
    if not passages:
        return "(no documents matched this question)"
    return "\n\n".join(f"[{p.citation}]\n{p.text.strip()}" for p in passages)


SPOKEN_RULE = ("\n\nThis conversation is spoken aloud: answer in at most three short sentences, with no lists, "
               "headings or bracketed citations (name a document in words if you use it).")


def system_prompt(persona: PersonaView, passages: list[Passage], *, spoken: bool = False) -> Prompt:
    name = "trainer" if persona.kind == "trainer" else "customer"
    tmpl, version = template(name)
    objections = ", ".join(f"{o.value} ({OBJECTION_LABELS[o]})" for o in persona.objections) or "none in particular"
    text = tmpl.safe_substitute(
        name=persona.name, personality=persona.personality, vehicle=persona.vehicle or "a vehicle",
        budget=persona.budget or "not stated", difficulty=persona.difficulty, objections=objections,
        difficulty_rule=_DIFFICULTY_RULES[persona.difficulty], passages=passages_block(passages),
    )
    return Prompt(text + SPOKEN_RULE if spoken else text, version)


def messages(system: Prompt, history: list[ChatTurn], user_text: str, history_tokens: int) -> list[ChatTurn]:
    """System prompt, as much recent history as fits the budget, then the new user turn."""
    budget = history_tokens
    kept: list[ChatTurn] = []
    for turn in reversed(history):
        cost = estimate_tokens(turn["content"]) + 4
        if cost > budget:
            break
        budget -= cost
        kept.append(turn)
    kept.reverse()
    return [{"role": "system", "content": system.text}, *kept, {"role": "user", "content": user_text}]
