"""Whole sentences out of a retrieved chunk, for answers built from it without a model.

A chunk is extracted text cut at a size limit: it holds headings (Markdown `#` lines, DOCX
heading paragraphs, a PDF page's title line), table rows (`a | b | c`), bullets, lines wrapped
mid-sentence, quoted word tracks, and it may start or end mid-sentence. `sentences()` keeps
what reads as prose: whole sentences (a quotation is never cut), each with the heading it sits
under, which says what the sentence is about but is never quoted itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEADING_WORDS = 10
MIN_WORDS = 4
MAX_WORDS = 80

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")
_BULLET = re.compile(r"^(?:[-*•‣◦▪]|\d{1,2}[.)])\s+")
_CLOSERS = "\"'”\u2019)]"
# A sentence ends at . ! or ? (and any closing quotes or brackets) followed by space or the end.
_END = re.compile(r"[.!?]+[\"'”\u2019)\]]*(?=\s|$)")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|approx|incl|Mr|Mrs|Ms|Dr|No|St)\.$", re.IGNORECASE)
# Single quotes open after a space (or the start) and close after a word or punctuation;
# an apostrophe inside a word (today's) is neither.
_SINGLE_OPEN = re.compile(r"(?:^|(?<=[\s(\[:]))['\u2018](?=\w)")
_SINGLE_CLOSE = re.compile(r"(?<=[\w.!?,])['\u2019](?=[\s.,;:!?)\]]|$)")
_STARTS_LIKE_A_SENTENCE = re.compile(r"^[\"“'\u2018(]?[A-Z0-9$]")
_ENDS_LIKE_A_SENTENCE = re.compile(r"[.!?][\"'”\u2019)\]]*$")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    heading: str | None
    position: int  # order in the chunk


def sentences(text: str, heading: str | None = None) -> list[Sentence]:
    """The whole sentences of `text`; `heading` is the section the chunk starts in, if known."""
    found: list[Sentence] = []
    current = heading
    known = _norm(heading) if heading else None
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        run: list[str] = []
        for i, line in enumerate(lines):
            following = lines[i + 1] if i + 1 < len(lines) else None
            if _is_table(line):
                _flush(run, current, found)
                continue
            title = _heading(line, following, starts_run=not run or _ENDS_LIKE_A_SENTENCE.search(run[-1]) is not None,
                             first_in_paragraph=i == 0, known=known)
            if title is not None:
                _flush(run, current, found)
                current = title
                continue
            bullet = _BULLET.match(line)
            if bullet:
                _flush(run, current, found)
                line = line[bullet.end():]
            run.append(line)
        _flush(run, current, found)
    return found


def _is_table(line: str) -> bool:
    return line.count("|") >= 2 or " | " in line or line.startswith("|") or _TABLE_RULE.match(line) is not None


def _heading(line: str, following: str | None, *, starts_run: bool, first_in_paragraph: bool,
             known: str | None) -> str | None:
    """The line as a section heading, or None if it is prose."""
    match = _MARKDOWN_HEADING.match(line)
    if match:
        return match.group(1)
    if known is not None and _norm(line) == known:
        return line
    if not starts_run:
        return None  # a line continuing a sentence
    bare = line.rstrip(_CLOSERS)
    if (bare[-1:] not in ".!?:;," and bare and len(line.split()) <= MAX_HEADING_WORDS
            and _STARTS_LIKE_A_SENTENCE.match(line)
            and (following is None or _STARTS_LIKE_A_SENTENCE.match(following) is not None)):
        # A short line with no end, before a new sentence (or alone): a title. (A wrapped line
        # goes on with a lower-case word; one ending in a number goes on with a digit.)
        return line.strip("\"“”'\u2018\u2019")
    if first_in_paragraph and following is not None and _whole_quotation(line):
        # A word track's cue: the customer's line in quotes, the answer below it.
        return line.strip("\"“”")
    return None


def _whole_quotation(line: str) -> bool:
    return (line[:1] in "\"“" and line[-1:] in "\"”" and len(line) > 2
            and line.count('"') + line.count("“") + line.count("”") == 2)


def _flush(run: list[str], heading: str | None, found: list[Sentence]) -> None:
    if not run:
        return
    text = " ".join(" ".join(run).split())
    run.clear()
    for piece in _split(text):
        if _whole(piece):
            found.append(Sentence(piece, heading, len(found)))


def _split(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _END.finditer(text):
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    if text[start:].strip():
        pieces.append(text[start:].strip())
    merged: list[str] = []
    for piece in pieces:
        # Not a new sentence: inside a quotation, after an abbreviation, or going on in lower case.
        if merged and (_open_quote(merged[-1]) or _ABBREVIATION.search(merged[-1]) or piece[:1].islower()):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def _open_quote(text: str) -> bool:
    if text.count('"') % 2 or text.count("“") > text.count("”"):
        return True
    return len(_SINGLE_OPEN.findall(text)) > len(_SINGLE_CLOSE.findall(text))


def _whole(piece: str) -> bool:
    """Starts and ends like a sentence, no table cells, quotations closed, a sensible length."""
    words = len(piece.split())
    return (MIN_WORDS <= words <= MAX_WORDS and "|" not in piece and not _open_quote(piece)
            and _STARTS_LIKE_A_SENTENCE.match(piece) is not None and _ENDS_LIKE_A_SENTENCE.search(piece) is not None)


def _norm(text: str) -> str:
    return " ".join(text.lower().strip("#\"“”'\u2018\u2019 ").split())
