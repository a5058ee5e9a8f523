"""Hidden facts from an admin's list: one per line, bullet or sentence, put in the customer's own
words ("she owes $4,000 on her Civic" -> "I owe $4,000 on my Civic") and labelled by topic."""

from __future__ import annotations

import re

from server.training.builder.collected import FactIn
from server.training.builder.words import TOKEN, capital, rx

_FACT_SPLIT = re.compile(r"\n+|;|(?<=[.!?])\s+|,?\s+\band\b\s+(?=(?:she|he|they|her|his|their|i|my)\b)",
                         re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_TOPICS: list[tuple[str, re.Pattern[str]]] = [
    ("competing offer", rx(r"quote", r"other dealer\w*", r"competitor\w*", r"offer(?:ed)? (?:from|at|by)",
                            r"another (?:dealer\w*|store)", r"across town")),
    ("trade-in payoff", rx(r"owe[sd]?", r"payoff", r"pay ?off", r"upside[- ]down", r"negative equity", r"loan")),
    ("current payment", rx(r"pay(?:s|ing)? \$", r"current(?:ly)? pay\w*", r"payment (?:is|of|on)", r"a month on")),
    ("credit", rx(r"credit", r"fico", r"score", r"bankrupt\w*", r"pre-?approv\w*")),
    ("trade-in", rx(r"trade[- ]?in", r"trading", r"(?:her|his|their|my) (?:old|current) (?:car|truck|vehicle)")),
    ("family", rx(r"wife", r"husband", r"spouse", r"partner", r"kids?", r"children", r"baby", r"family",
                   r"daughter", r"son", r"mother", r"father", r"parents?")),
    ("timing", rx(r"lease (?:ends?|is up|expires?)", r"by (?:monday|tuesday|wednesday|thursday|friday|saturday|"
                   r"sunday|the end|next)", r"deadline", r"this week(?:end)?", r"need(?:s)? (?:it|a car) by",
                   r"before", r"moving")),
    ("budget", rx(r"budget", r"afford", r"max(?:imum)?", r"down payment", r"cash")),
    ("driving needs", rx(r"commut\w*", r"miles", r"drives? (?:to|for)", r"tow\w*", r"job", r"work(?:s)?")),
]
_FIRST_PERSON: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:she|he|they)(?:'s|\u2019s| is| are)\b", re.IGNORECASE), "I'm"),
    (re.compile(r"\b(?:she|he|they) (?:has|have)\b", re.IGNORECASE), "I have"),
    (re.compile(r"\b(?:she|he|they) (?:was|were)\b", re.IGNORECASE), "I was"),
    (re.compile(r"\b(?:she|he|they) (?:does|do)\b", re.IGNORECASE), "I do"),
    (re.compile(r"\b(?:herself|himself|themselves)\b", re.IGNORECASE), "myself"),
]
_SUBJECT_VERB = re.compile(r"\b(she|he|they) (\w+)\b", re.IGNORECASE)
_HER_OBJECT = re.compile(r"\b(her|him|them)\b(?=\s*(?:$|[.,;!?]|to\b|for\b|about\b|that\b|and\b|if\b|a\b|an\b|the\b|"
                         r"\$|\d|into\b|up\b|off\b|back\b|on\b|in\b))", re.IGNORECASE)
_UNCHANGED = {"can", "could", "will", "would", "should", "might", "must", "may", "did", "had", "never", "just",
              "already", "only", "also", "still", "really", "always", "plus"}
_POSSESSIVE = re.compile(r"\b(?:her|his|their)\b", re.IGNORECASE)


def hidden_facts(text: str) -> list[FactIn]:
    facts: list[FactIn] = []
    for item in _FACT_SPLIT.split(text):
        item = _BULLET.sub("", item or "").strip().rstrip(".").strip()
        item = re.sub(r"^(?:also|and|plus|oh and)\s*,?\s*", "", item, flags=re.IGNORECASE)
        if len(TOKEN.findall(item)) < 3:
            continue
        facts.append(FactIn(label=label_of(item)[:200], value=(capital(first_person(item)) + ".")[:2000]))
    return facts[:20]


def first_person(text: str) -> str:
    """A fact told about the customer, as the customer would say it: "she owes $4,000 on her
    Civic" -> "I owe $4,000 on my Civic"."""
    for pattern, replacement in _FIRST_PERSON:
        text = pattern.sub(replacement, text)

    def verb(match: re.Match[str]) -> str:
        word = match.group(2)
        lowered = word.lower()
        if lowered in _UNCHANGED or lowered.endswith("ss") or not lowered.endswith("s"):
            return f"I {word}"
        if lowered.endswith("ies"):
            return f"I {word[:-3]}y"
        if re.search(r"(?:sh|ch|x|o)es$", lowered) or lowered.endswith("sses"):
            return f"I {word[:-2]}"
        return f"I {word[:-1]}"

    text = _SUBJECT_VERB.sub(verb, text)
    text = _HER_OBJECT.sub("me", text)
    return _POSSESSIVE.sub("my", text)


def label_of(item: str) -> str:
    for label, pattern in _TOPICS:
        if pattern.search(item):
            return label
    words = [w for w in TOKEN.findall(first_person(item)) if w.lower() not in {"i", "i'm", "my", "me", "a", "the"}]
    return " ".join(words[:5]) or "fact"
