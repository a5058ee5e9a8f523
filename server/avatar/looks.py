"""The built-in avatar's looks: a contract with the web client, which draws each of these ids.

A persona names its look (`avatar_look`); one that does not gets a look derived from its id, the
same on every instance and every start (a hash, not Python's per-process `hash()`).
"""

from __future__ import annotations

import hashlib
from typing import Literal, get_args

AvatarLook = Literal[
    "woman-young-casual",
    "woman-middle-business",
    "woman-senior-classic",
    "man-young-casual",
    "man-middle-business",
    "man-senior-classic",
    "man-middle-workwear",
    "woman-young-sporty",
]
LOOKS: tuple[str, ...] = get_args(AvatarLook)


def default_look(persona_id: str) -> AvatarLook:
    """The look of a persona that names none: stable for its id."""
    digest = hashlib.sha256(persona_id.encode()).digest()
    look: AvatarLook = LOOKS[int.from_bytes(digest[:4], "big") % len(LOOKS)]  # type: ignore[assignment]
    return look
