"""Helpers shared by the conversation tests."""

from __future__ import annotations

import json
import re
from typing import Any

from server.conversation import offline, tagging
from server.conversation.personas import builtin_personas


def parse_sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


class Scene:
    """A role-play with the offline customer, line by line, tagged as the engine tags it."""

    def __init__(self, persona_id: str) -> None:
        self.persona = builtin_personas()[persona_id]
        self.history: list[tuple[str, str, dict[str, Any]]] = []
        self.replies: list[tuple[str, dict[str, Any]]] = []

    def say(self, text: str) -> tuple[str, dict[str, Any]]:
        self.history.append(("user", text, tagging.user_tags(text)))
        reply, tags = offline.customer_reply(self.persona, self.history, text)
        self.history.append(("assistant", reply, tags))
        self.replies.append((reply, tags))
        return reply, tags


# A finance desk's guide as a dealership writes one: headings, bullets (one of them a fragment),
# a rate table and a quoted word track.
GUIDE_MD = b"""# Finance desk guide

## When the monthly payment is too high

- Offer a longer term or a bigger down payment before you touch the price.
- Ask what payment they had in mind, then show two options side by side.
- Longer terms

| Term | Rate | Payment |
|------|------|---------|
| 60 months | 4.9% | $512 |
| 72 months | 5.4% | $446 |

## Quoting rates

Never quote a rate before the credit application is in. Say: "Rates change daily. I'll confirm
yours the moment the bank replies." It keeps the promise you can keep.
"""

# The session (sam-price, easy): value answers with no "I understand" settle both
# objections; then a trial close and a request to book the follow-up.
SAM = [
    "Hi Sam, welcome in! What brings you in today?",
    "Great choice. The mid trim is our most popular.",
    "The mid trim includes the safety package and a five-year warranty, so you get real value for the money.",
    "It's certified, with free maintenance for two years, which saves you money.",
    "Is this the one you'd want to drive home if the numbers work for you?",
    "Why don't we book a time on Saturday for you to come back and finalise everything?",
]


def named(summary: str, lead: str) -> list[str]:
    found = re.search(rf"{lead} ([^.]*)\.", summary)
    return re.split(r", | and ", found.group(1)) if found else []


def assert_consistent(card: dict[str, Any]) -> None:
    """What the summary says is what the scores and objection lists show."""
    scores = {s["dimension"].replace("_", " "): s["score"] for s in card["scores"]}
    strengths, weak = named(card["summary"], "Strongest:"), named(card["summary"], "Work on")
    assert sorted(strengths) == sorted(d for d, score in scores.items() if score >= 4), card["summary"]
    assert all(scores[d] < 4 for d in weak) and not set(weak) & set(strengths), card["summary"]
    assert bool(weak) == (min(scores.values()) < 4), card["summary"]
    assert all(scores[d] >= scores[w] for d in scores if d not in weak for w in weak), card["summary"]
    objections = card["objections"]
    assert objections["unresolved"] == [o for o in objections["raised"] if o not in objections["resolved"]]
    if objections["raised"]:
        assert (scores["objection handling"] >= 4) == (not objections["unresolved"]), card
    assert ("left open" in card["summary"]) == bool(objections["unresolved"]), card["summary"]
    assert ("You resolved" in card["summary"]) == bool(objections["resolved"]), card["summary"]
