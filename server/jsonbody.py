"""Reading a client's JSON (REST bodies, voice messages): nesting is bounded before any walk.

orjson parses up to 1024 levels, but everything after it (our NUL check, pydantic, logging a
value) walks the result recursively in Python, and ~500 levels were enough to end in a
RecursionError. A body nested deeper than `MAX_DEPTH` is refused before it is parsed.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 32  # our deepest schema (a persona's scripted lines) uses 3 levels

# Every byte that is not a bracket is deleted, and `{}` become `[]`: depth is all that is left.
_TO_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


class TooDeep(ValueError):
    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def too_deep(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether `raw` nests arrays/objects more than `max_depth` deep (strings do not count).

    Linear in C per level and at most `max_depth` passes: each pass deletes the innermost `[]`
    pairs, so whatever survives `max_depth` passes sits deeper than that."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False  # the common case: too few brackets to nest that deep
    # Brackets inside strings nest nothing: drop escaped backslashes, then escaped quotes, and
    # every other quote-delimited piece is a string.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = b"".join(unescaped.split(b'"')[::2]).translate(_TO_BRACKETS, _NOT_BRACKETS)
    too_many = b"[" * (max_depth + 1)
    for _ in range(max_depth):
        if too_many in skeleton:
            return True  # that many opened in a row: deeper than allowed, without more passes
        reduced = skeleton.replace(b"[]", b"")
        if len(reduced) == len(skeleton):
            return False  # nothing left to take apart, or unbalanced: the parser will say so
        skeleton = reduced
    return b"[" in skeleton


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """orjson.loads, refusing (TooDeep) a document nested more than `max_depth` levels."""
    data = raw.encode() if isinstance(raw, str) else raw
    if too_deep(data, max_depth):
        raise TooDeep(max_depth)
    return orjson.loads(data)
