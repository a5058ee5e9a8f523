"""Small text helpers the builder's rules share."""

from __future__ import annotations

import re

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'-]*")
# Clause boundaries: punctuation, commas (not the thousands in "$4,000"), "but", "and".
_CLAUSE = re.compile(r"[.;!?\n]+|,(?!\d{3})|\bbut\b|\band\b(?! also)", re.IGNORECASE)


def rx(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of the alternatives as whole words."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


def clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(text) if c and c.strip()]


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]
