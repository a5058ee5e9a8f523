"""Text out of PDF, DOCX, plain text and Markdown, as blocks in reading order with their page
and heading. Anything unreadable raises `ExtractionError` with a reason a person understands."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pypdf
from pypdf.errors import PyPdfError

from server.rag.sniff import Kind


class ExtractionError(Exception):
    """`str(error)` is shown to the user as the document's failure reason."""


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    page: int | None = None
    heading: str | None = None


NO_TEXT_LAYER = "no extractable text; is it a scanned image?"
ENCRYPTED = "The PDF is password-protected; upload a copy without a password."
CORRUPT_PDF = "The PDF is corrupt or truncated and could not be read."
# pypdf signals damage through many exception types besides its own.
_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, EOFError,
               RecursionError, NotImplementedError, ZeroDivisionError, AssertionError)


def extract(kind: Kind, data: bytes, *, max_docx_bytes: int,
            on_page: Callable[[int, int], None] | None = None) -> Iterator[Block]:
    """`on_page(number, total)` is called as each PDF page starts (progress, per-page time limits)."""
    if kind == "pdf":
        return extract_pdf(data, on_page=on_page)
    if kind == "docx":
        from server.rag.wordml import extract_docx

        return extract_docx(data, max_docx_bytes)
    return extract_text(data, markdown=kind == "markdown")


def _open_pdf(data: bytes) -> pypdf.PdfReader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(io.BytesIO(data))
            encrypted = reader.is_encrypted
    except _PDF_ERRORS:
        raise ExtractionError(CORRUPT_PDF) from None
    if encrypted:
        # Many PDFs are "encrypted" only to restrict printing, with an empty user password.
        try:
            if not reader.decrypt(""):
                raise ExtractionError(ENCRYPTED)
        except _PDF_ERRORS:
            raise ExtractionError(ENCRYPTED) from None
    try:
        _ = len(reader.pages)
    except _PDF_ERRORS:
        raise ExtractionError(CORRUPT_PDF) from None
    return reader


def extract_pdf(data: bytes, start: int = 0, stop: int | None = None,
                on_page: Callable[[int, int], None] | None = None) -> Iterator[Block]:
    """Pages [start, stop) as one block each (1-based page numbers)."""
    reader = _open_pdf(data)
    pages = reader.pages
    found_text = False
    total = len(pages)
    for number in range(start, total if stop is None else min(stop, total)):
        if on_page is not None:
            on_page(number + 1, total)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                text = pages[number].extract_text() or ""
        except _PDF_ERRORS:
            raise ExtractionError(f"The PDF is corrupt: page {number + 1} could not be read.") from None
        text = tidy(text)
        if text:
            found_text = True
            yield Block(text=text, page=number + 1)
    if not found_text and start == 0 and stop is None:
        raise ExtractionError(NO_TEXT_LAYER)


_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def extract_text(data: bytes, *, markdown: bool) -> Iterator[Block]:
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ExtractionError("The file contains no text.")
    heading: str | None = None
    section: list[str] = []
    for line in text.split("\n"):
        match = _HEADING.match(line) if markdown else None
        if match:
            if "".join(section).strip():
                yield Block(text=tidy("\n".join(section)), heading=heading)
            heading, section = match.group(1), [line]
        else:
            section.append(line)
    if "".join(section).strip():
        yield Block(text=tidy("\n".join(section)), heading=heading)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM or BOM-less), else cp1252: never mojibake."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:4096]:
        head = data[:4096]
        encoding = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    text = text.replace("\x00", "")
    return _BLANKS.sub("\n\n", _SPACES.sub(" ", text)).strip()
