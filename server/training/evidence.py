"""Evidence checks: a quote counts only if the trainee actually said it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from server.training.spec import Evidence

_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _norm(text: str) -> str:
    # Verbatim, except for whitespace runs and typographic quotes, which models rewrite freely.
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip()


def verify(evidence: Iterable[Evidence], trainee_messages: dict[str, str]) -> tuple[list[Evidence], list[Evidence]]:
    """(kept, dropped): a quote is kept when it appears verbatim in one of the trainee's own
    messages; one naming another message is re-pointed at the message that holds it."""
    kept: list[Evidence] = []
    dropped: list[Evidence] = []
    for item in evidence:
        quote = _norm(item.quote)
        if len(quote) < 2:
            dropped.append(item)
            continue
        where = item.message_id if quote in _norm(trainee_messages.get(item.message_id, "")) else next(
            (mid for mid, text in trainee_messages.items() if quote in _norm(text)), None)
        if where is None:
            dropped.append(item)
        else:
            kept.append(Evidence(message_id=where, quote=quote))
    return kept, dropped
