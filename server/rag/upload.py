"""Uploaded files, checked before anything is stored: not empty, within the size limit, a type
we can read (decided by content), hashed (SHA-256) for duplicate detection, name sanitized.

Starlette's multipart parser spools each file to a temporary file past 1 MB, so an upload is
never held in memory whole while it is checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from server.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from server.rag.sniff import Kind, sniff

MAX_FILENAME = 255


@dataclass
class Upload:
    filename: str
    kind: Kind
    sha256: str
    size: int
    file: BinaryIO

    def read(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


def sanitize_filename(raw: str | None) -> str:
    """No directories, no control or format characters, no leading dots, at most 255 bytes."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).lstrip(". ")
    while len(name.encode()) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:-1] + dot + ext) if dot and len(ext) < 16 and stem else name[:-1]
    return name or "document"


def _measure(fh: BinaryIO) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    fh.seek(0)
    while block := fh.read(1024 * 1024):
        digest.update(block)
        size += len(block)
    fh.seek(0)
    return size, digest.hexdigest()


async def check_upload(fh: BinaryIO, raw_name: str | None, *, max_bytes: int) -> Upload:
    filename = sanitize_filename(raw_name)
    size, sha256 = await asyncio.to_thread(_measure, fh)
    details = {"filename": filename}
    if size == 0:
        raise ValidationFailed(f"{filename} is empty.", code="empty_file", details=details)
    if size > max_bytes:
        raise PayloadTooLarge(f"{filename} is larger than {max_bytes // (1024 * 1024)} MB.",
                              details={**details, "limit_bytes": max_bytes})
    kind = await asyncio.to_thread(sniff, fh, filename)
    if kind is None:
        raise UnsupportedMediaType(f"{filename} is not a PDF, DOCX, text or Markdown file.",
                                   details={**details, "accepted": ["pdf", "docx", "txt", "md"]})
    return Upload(filename=filename, kind=kind, sha256=sha256, size=size, file=fh)
