"""What kind of document an upload is, decided by its bytes (never by its name alone)."""

from __future__ import annotations

import re
import zipfile
from typing import BinaryIO, Literal

Kind = Literal["pdf", "docx", "text", "markdown"]

KINDS: tuple[Kind, ...] = ("pdf", "docx", "text", "markdown")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_MARKDOWN = re.compile(rb"(?m)^(#{1,6} \S|[-*] \S|```|\[[^\]]+\]\([^)]+\))")
_CONTROL = bytes(range(0x20)).translate(None, b"\t\n\r\f\x1b")


def sniff(fh: BinaryIO, filename: str = "") -> Kind | None:
    """`fh` is a seekable binary file, left at position 0."""
    fh.seek(0)
    head = fh.read(8192)
    fh.seek(0)
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx" if _is_docx(fh, head) else None
    if _looks_like_text(head):
        markdown = filename.lower().endswith((".md", ".markdown")) or _MARKDOWN.search(head)
        return "markdown" if markdown else "text"
    return None


def _is_docx(fh: BinaryIO, head: bytes) -> bool:
    # Only the central directory is read here; sizes are checked when the file is extracted.
    try:
        with zipfile.ZipFile(fh) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        # No readable central directory (a truncated download): the local headers at the start
        # still say whether it was a Word document, so it can fail later with a useful reason.
        return b"[Content_Types].xml" in head and b"word/" in head
    finally:
        fh.seek(0)
    return "word/document.xml" in names and "[Content_Types].xml" in names


def _looks_like_text(head: bytes) -> bool:
    if head.startswith(_BOMS):
        return True
    if not head:
        return False
    if b"\x00" in head:
        return _looks_like_utf16(head)
    controls = sum(head.count(bytes([c])) for c in _CONTROL)
    return controls <= len(head) // 100


def _looks_like_utf16(head: bytes) -> bool:
    """BOM-less UTF-16: ASCII-range text leaves every other byte zero."""
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    return max(even, odd) >= half * 0.7 and min(even, odd) <= half * 0.05
