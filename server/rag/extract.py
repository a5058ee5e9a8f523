"""Text out of PDF, DOCX, plain text and Markdown, as blocks in reading order with their page
and heading. Anything unreadable raises `ExtractionError` with a reason a person understands."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterator
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


def count_pdf_pages(data: bytes) -> int:
    return len(_open_pdf(data).pages)


def extract(kind: Kind, data: bytes, *, max_docx_bytes: int) -> Iterator[Block]:
    if kind == "pdf":
        return extract_pdf(data)
    if kind == "docx":
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


def extract_pdf(data: bytes, start: int = 0, stop: int | None = None) -> Iterator[Block]:
    """Pages [start, stop) as one block each (1-based page numbers)."""
    reader = _open_pdf(data)
    pages = reader.pages
    found_text = False
    for number in range(start, len(pages) if stop is None else min(stop, len(pages))):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                text = pages[number].extract_text() or ""
        except _PDF_ERRORS:
            raise ExtractionError(f"The PDF is corrupt: page {number + 1} could not be read.") from None
        text = _tidy(text)
        if text:
            found_text = True
            yield Block(text=text, page=number + 1)
    if not found_text and start == 0 and stop is None:
        raise ExtractionError(NO_TEXT_LAYER)


def extract_docx(data: bytes, max_uncompressed: int) -> Iterator[Block]:
    _check_zip(data, max_uncompressed)
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        items = list(document.iter_inner_content())
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise ExtractionError("The DOCX file is corrupt or truncated and could not be read.") from exc
    except Exception as exc:  # lxml raises its own tree of errors for broken XML
        raise ExtractionError("The DOCX file is corrupt or truncated and could not be read.") from exc
    page, heading, found = 1, None, False
    for item in items:
        if isinstance(item, Table):
            rows = [" | ".join(_tidy(cell.text) for cell in row.cells) for row in item.rows]
            text = "\n".join(row for row in rows if row.strip(" |"))
        else:
            text = _tidy(item.text)
            style = (item.style.name if item.style is not None else "") or ""
            if text and (style.startswith("Heading") or style == "Title"):
                heading = text
            page += len(item._p.xpath('.//w:br[@w:type="page"]'))
        if text:
            found = True
            yield Block(text=text, page=page, heading=heading)
    if not found:
        raise ExtractionError("The document contains no text.")


def _check_zip(data: bytes, max_uncompressed: int) -> None:
    # zipfile refuses to read past a member's declared size (CRC/size check), so summing the
    # declared sizes bounds what unpacking can cost.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ExtractionError("The DOCX file is corrupt or truncated and could not be read.") from None
    if total > max_uncompressed:
        raise ExtractionError(
            f"The DOCX unpacks to {total // (1024 * 1024)} MB, over the {max_uncompressed // (1024 * 1024)} MB "
            "limit (a zip bomb?); it was not processed.")


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
                yield Block(text=_tidy("\n".join(section)), heading=heading)
            heading, section = match.group(1), [line]
        else:
            section.append(line)
    if "".join(section).strip():
        yield Block(text=_tidy("\n".join(section)), heading=heading)


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


def _tidy(text: str) -> str:
    text = text.replace("\x00", "")
    return _BLANKS.sub("\n\n", _SPACES.sub(" ", text)).strip()
