"""DOCX text by a streaming parse of `word/document.xml`: paragraphs, headings and tables in
reading order, each body-level element dropped once read, so memory follows the text, not the
XML (a 123 KB DOCX can unpack to 40 MB of XML: a tree of it took over 1 GB).

What is read matches python-docx's `Document.iter_inner_content()`: body-level paragraphs
(runs and hyperlinks; tabs and line breaks as whitespace) and tables (cells' own paragraphs);
a heading is a paragraph whose style is named "Heading …" or "Title"; hard page breaks count pages.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

from lxml import etree

from server.rag.extract import Block, ExtractionError, tidy

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_BODY, _P, _TBL, _R, _HYPERLINK = f"{_W}body", f"{_W}p", f"{_W}tbl", f"{_W}r", f"{_W}hyperlink"
_RUN_TEXT = {f"{_W}t": None, f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_VAL, _TYPE = f"{_W}val", f"{_W}type"
CORRUPT = "The DOCX file is corrupt or truncated and could not be read."
_SMALL_PART = 4 * 1024 * 1024
_XML_ERR_NO_MEMORY = 2  # relationships: read whole only when this small


def extract_docx(data: bytes, max_uncompressed: int) -> Iterator[Block]:
    check_zip(data, max_uncompressed)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        styles = _style_names(archive)
        part = _main_part(archive)
        found = False
        for block in _blocks(archive, part, styles):
            found = True
            yield block
    except ExtractionError:
        raise
    except etree.LxmlError as exc:
        # libxml2 out of memory (the reader's memory cap) is no corruption: the caller says "too large".
        if getattr(exc, "code", None) == _XML_ERR_NO_MEMORY or "memory" in str(exc).lower():
            raise MemoryError from exc
        raise ExtractionError(CORRUPT) from exc
    except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError, EOFError) as exc:
        raise ExtractionError(CORRUPT) from exc
    if not found:
        raise ExtractionError("The document contains no text.")


def check_zip(data: bytes, max_uncompressed: int) -> None:
    # zipfile refuses to read past a member's declared size (CRC/size check), so summing the
    # declared sizes bounds what unpacking can cost.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ExtractionError(CORRUPT) from None
    if total > max_uncompressed:
        raise ExtractionError(
            f"The DOCX unpacks to {total // (1024 * 1024)} MB, over the {max_uncompressed // (1024 * 1024)} MB "
            "limit (a zip bomb?); it was not processed.")


def _iterparse(archive: zipfile.ZipFile, name: str, tag: str | tuple[str, ...]) -> Iterator[etree._Element]:
    with archive.open(name) as stream:
        # No entities, no network, no huge text nodes or deep trees (lxml's own limits).
        for _, element in etree.iterparse(stream, events=("end",), tag=tag, resolve_entities=False,
                                          no_network=True, huge_tree=False):
            yield element


def _main_part(archive: zipfile.ZipFile) -> str:
    try:
        if archive.getinfo("_rels/.rels").file_size <= _SMALL_PART:
            for rel in _iterparse(archive, "_rels/.rels", _REL):
                if (rel.get("Type") or "").endswith("/officeDocument") and rel.get("TargetMode") != "External":
                    return (rel.get("Target") or "").lstrip("/") or "word/document.xml"
    except KeyError:
        pass
    return "word/document.xml"


def _style_names(archive: zipfile.ZipFile) -> dict[str, str]:
    names: dict[str, str] = {}
    try:
        archive.getinfo("word/styles.xml")
    except KeyError:
        return names
    for style in _iterparse(archive, "word/styles.xml", f"{_W}style"):
        name = style.find(f"{_W}name")
        style_id = style.get(f"{_W}styleId")
        if style_id and name is not None:
            names[style_id] = name.get(_VAL) or ""
        style.clear()
    return names


def _blocks(archive: zipfile.ZipFile, part: str, styles: dict[str, str]) -> Iterator[Block]:
    page, heading = 1, None
    for element in _iterparse(archive, part, (_P, _TBL)):
        parent = element.getparent()
        if parent is None or parent.tag != _BODY:
            continue  # inside a table (read with it) or a content control (skipped, as python-docx does)
        if element.tag == _TBL:
            rows = [" | ".join(tidy(_cell_text(cell)) for cell in row.iterchildren(f"{_W}tc"))
                    for row in element.iterchildren(f"{_W}tr")]
            text = "\n".join(row for row in rows if row.strip(" |"))
        else:
            text = tidy(_paragraph_text(element))
            if text and _is_heading(element, styles):
                heading = text
            page += sum(1 for br in element.iter(f"{_W}br") if br.get(_TYPE) == "page")
        # Read: drop it and every earlier sibling, so the tree never holds more than one element.
        element.clear(keep_tail=False)
        while element.getprevious() is not None:
            del parent[0]
        if text:
            yield Block(text=text, page=page, heading=heading)


def _cell_text(cell: etree._Element) -> str:
    return "\n".join(_paragraph_text(p) for p in cell.iterchildren(_P))


def _paragraph_text(paragraph: etree._Element) -> str:
    parts: list[str] = []
    for child in paragraph.iterchildren(_R, _HYPERLINK):
        for run in (child,) if child.tag == _R else child.iterchildren(_R):
            for item in run.iterchildren():
                tag = item.tag
                if tag == f"{_W}t":
                    parts.append(item.text or "")
                elif tag == f"{_W}br":
                    if item.get(_TYPE) in (None, "textWrapping"):
                        parts.append("\n")
                elif tag in _RUN_TEXT:
                    parts.append(_RUN_TEXT[tag] or "")
    return "".join(parts)


def _is_heading(paragraph: etree._Element, styles: dict[str, str]) -> bool:
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    if style is None:
        return False
    name = styles.get(style.get(_VAL) or "", style.get(_VAL) or "").lower()
    return name.startswith("heading") or name == "title"
