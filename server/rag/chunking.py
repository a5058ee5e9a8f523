"""Split extracted blocks into overlapping chunks that remember their page(s), heading and
position, with langchain's RecursiveCharacterTextSplitter (paragraph, line, word boundaries)."""

from __future__ import annotations

import hashlib
import re
import uuid
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from langchain_text_splitters import RecursiveCharacterTextSplitter

from server.rag.extract import Block

DEFAULT_SIZE = 1000
DEFAULT_OVERLAP = 200
_SEPARATOR = "\n\n"
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Piece:
    position: int
    text: str
    page: int | None
    page_end: int | None
    heading: str | None

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """Same words, same hash: whitespace and case do not make two chunks different."""
    normalized = _WS.sub(" ", text).strip().lower()
    return hashlib.blake2b(normalized.encode(), digest_size=16).hexdigest()


def chunk_id(document_id: uuid.UUID, position: int) -> uuid.UUID:
    # Deterministic, so a retried job (or a Pinecone upsert) overwrites instead of duplicating.
    return uuid.uuid5(document_id, f"chunk-{position}")


def chunk_blocks(blocks: Iterable[Block], *, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Piece]:
    """Chunks never straddle a page break, so each cites exactly one page."""
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=min(overlap, size - 1),
                                              add_start_index=True)
    pieces: list[Piece] = []
    for page, group in groupby(blocks, key=lambda block: block.page):
        _split_page(splitter, page, list(group), pieces)
    return pieces


def _split_page(splitter: RecursiveCharacterTextSplitter, page: int | None, blocks: list[Block],
                pieces: list[Piece]) -> None:
    starts: list[int] = []
    offset = 0
    for block in blocks:
        starts.append(offset)
        offset += len(block.text) + len(_SEPARATOR)
    text = _SEPARATOR.join(block.text for block in blocks)
    for doc in splitter.create_documents([text]):
        start = int(doc.metadata.get("start_index", 0))
        first = max(bisect_right(starts, start) - 1, 0)
        pieces.append(Piece(position=len(pieces), text=doc.page_content, page=page, page_end=page,
                            heading=blocks[first].heading))
