"""The offline conversation engine, used when no model is configured. Deterministic.

Training: Adam answers with a few whole sentences from the best retrieved passages (scored for
the question: its words in the sentence and its heading, and the objection it is about), citing
exactly the passages quoted; with no sentence on the question he says so, cites nothing, and
coaches from a short playbook for the objection the question is about.
Role-play: the customer follows their persona's objections in order, letting go of one only
when the salesperson handles it (how well depends on the persona's difficulty), and agrees
once every objection is handled and the salesperson asks for the sale. It reacts to what the
salesperson just did, moves through stages (opening, needs, objections, resolution or
walk-out) and never says the same sentence twice in a session (`pick`); the scenario customer
(`server/training/customer.py`) is built on the same pieces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import snowballstemmer

from server.conversation import tagging
from server.conversation.grounding import Passage
from server.conversation.personas import PersonaView
from server.conversation.sentences import Sentence, sentences
from server.conversation.taxonomy import Objection, Technique

MODEL_NAME = "offline"
NOT_FOUND = "I couldn't find this in your dealership's documents"
MAX_SENTENCES = 3  # an answer is a few sentences ...
MAX_PASSAGES = 2  # ... from the best passages
_WORD = re.compile(r"[a-z0-9&']+")
_STOP_WORDS = (
    "a an and are as at be but by can do does for from have how i if in is it its me my of on or our so that the "
    "their them they this to was we what when which who why will with you your customer customers says said say tell "
    # How a trainee asks, rather than what about: "how should I handle a buyer who says ..."
    "about also any ask best could deal dealing get handle handling him her his she should some someone too very "
    "want wants wanted way would respond reply answer really thing things just know buyer buyers client clients "
    "after again before during here into over than then there under where while"
)
_STOP = frozenset(_STOP_WORDS.split())
_STEMMER = snowballstemmer.stemmer("english")


@cache
def playbook() -> dict[str, Any]:
    text = resources.files("server.conversation").joinpath("playbook.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    # Cached: the pure-Python stemmer takes ~50 us a word; a dealership's vocabulary is small.
    return str(_STEMMER.stemWord(word))


def words(text: str) -> set[str]:
    """The content words of `text`, stemmed (so "objections" matches "objection")."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


@dataclass(frozen=True, slots=True)
class TrainerAnswer:
    text: str
    cited: list[tuple[Passage, str]]  # exactly the passages the text quotes, with what it quotes

    def sources(self) -> list[dict[str, Any]]:
        return [passage.source(quoted) for passage, quoted in self.cited]


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence chosen for an answer, with its relevance and where it came from."""

    score: int
    rank: int  # of its passage in the retrieval
    sentence: Sentence
    passage: Passage


@dataclass(frozen=True, slots=True)
class _Read:
    """A sentence read once for every question: its words, its heading's, and their objections."""
    sentence: Sentence
    words: frozenset[str]
    heading_words: frozenset[str]
    section_topic: Objection | None
    topic: Objection | None


@lru_cache(maxsize=1024)
def _read(text: str, heading: str | None) -> tuple[_Read, ...]:
    # Cached by chunk: the same passages answer many questions (~0.1 ms a chunk saved).
    return tuple(_Read(s, frozenset(words(s.text)), frozenset(words(s.heading or "")),
                       tagging.objection(s.heading) if s.heading else None, tagging.objection(s.text))
                 for s in sentences(text, heading))


def _relevance(wanted: set[str], topic: Objection | None, read: _Read) -> int:
    """Question words in the sentence and in its heading, plus 2 when its section is about the
    question's objection (1 when only the sentence is): "wife" finds a section on the spouse."""
    bonus = 0
    if topic is not None:
        if read.section_topic is topic:
            bonus = 2
        elif read.section_topic is None and read.topic is topic:
            bonus = 1
    return len(wanted & read.words) + len(wanted & read.heading_words) + bonus


def select(question: str, passages: list[Passage], *, limit: int = MAX_SENTENCES) -> list[Quote]:
    """The few whole sentences that best answer `question`, in the order they are best read.

    They come from the section (a passage's text under one heading) holding the best sentence;
    another section is drawn on only while that one is short of `limit` and only if its best
    sentence is nearly as good, so a neighbouring section on another topic stays out. Empty
    when no sentence is on the question: then nothing is cited."""
    wanted = words(question)
    topic = tagging.objection(question)
    needed = 1 if len(wanted) <= 1 else 2
    sections: dict[tuple[int, str | None], list[Quote]] = {}
    seen: set[str] = set()
    for rank, passage in enumerate(passages):
        for read in _read(passage.text, passage.heading):
            sentence = read.sentence
            key = " ".join(sentence.text.lower().split())
            score = _relevance(wanted, topic, read)
            if score >= needed and key not in seen:  # (overlapping chunks repeat sentences)
                seen.add(key)
                sections.setdefault((rank, sentence.heading), []).append(Quote(score, rank, sentence, passage))
    if not sections:
        return []
    ranked = sorted(sections.values(), key=lambda found: (-max(c.score for c in found), found[0].rank))
    best = max(c.score for c in ranked[0])
    chosen: list[Quote] = []
    ranks: list[int] = []
    for found in ranked:
        if chosen and (max(c.score for c in found) < best - 1 or (found[0].rank not in ranks
                                                                  and len(ranks) == MAX_PASSAGES)):
            continue
        top = sorted(found, key=lambda c: (-c.score, c.sentence.position))[:limit - len(chosen)]
        chosen += sorted(top, key=lambda c: c.sentence.position)
        ranks += [] if found[0].rank in ranks else [found[0].rank]
        if len(chosen) >= limit:
            break
    # Read passage by passage, in the order the passages were first drawn on.
    return sorted(chosen, key=lambda c: (ranks.index(c.rank), c.sentence.position))


def training_answer(question: str, passages: list[Passage], *, spoken: bool = False) -> TrainerAnswer:
    topic = tagging.objection(question)
    steps: list[str] = playbook()["coaching"][topic.value if topic else "generic"]
    chosen = select(question, passages, limit=1 if spoken else MAX_SENTENCES)
    cited = [(passage, " ".join(c.sentence.text for c in chosen if c.passage is passage))
             for passage in {id(c.passage): c.passage for c in chosen}.values()]
    if spoken:
        # Heard, not read: two sentences, no lists; sources are shown next to the transcript.
        if not chosen:
            return TrainerAnswer(f"{NOT_FOUND}. In general: {steps[0]}", [])
        return TrainerAnswer(f"Your {chosen[0].passage.filename} says: {chosen[0].sentence.text} "
                             f"On the floor: {steps[0]}", cited)
    if not chosen:
        lines = [f"{NOT_FOUND}, so here is how I'd handle it in general:"]
        lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
        return TrainerAnswer("\n".join(lines), [])
    lines = ["Here's what your dealership's documents say:"]
    lines += [f"{quoted} [{passage.citation}]" for passage, quoted in cited]
    lines.append(f"On the floor: {steps[0]}")
    return TrainerAnswer("\n".join(lines), cited)


@dataclass
class CustomerState:
    raised: list[Objection]
    resolved: set[Objection]
    pushes: int  # times the current objection has been voiced
    stalls: int = 0  # of those, times the salesperson did nothing with it (walk-out counts these)
    turns: int = 0  # the customer's turns so far
    needs: int = 0  # of those, answers to discovery questions before any objection
    agreed: bool = False  # the customer has agreed to buy
    walked: bool = False  # the customer has walked out
    used: set[str] = field(default_factory=set)  # every sentence said so far, normalised

    @property
    def current(self) -> Objection | None:
        open_ = [o for o in self.raised if o not in self.resolved]
        return open_[-1] if open_ else None


def customer_state(history: list[tuple[str, str, dict[str, Any]]]) -> CustomerState:
    """Replays the session: customer turns carry their objection tag, salesperson turns their techniques."""
    state = CustomerState([], set(), 0)
    for role, text, tags in history:
        if role != "assistant":
            continue
        state.turns += 1
        state.used |= said(text)
        value = tags.get("objection")
        resolved = tags.get("resolved")
        state.needs += tags.get("stage") == "needs"
        state.agreed |= bool(tags.get("agreed"))
        state.walked |= tags.get("stage") == "walk_out"
        if resolved:
            state.resolved.add(Objection(resolved))
        if value:
            objection = Objection(value)
            if objection not in state.raised:
                state.raised.append(objection)
                state.pushes = state.stalls = 0
            state.pushes += 1
            state.stalls += bool(tags.get("stalled"))
    return state


_SPLIT = re.compile(r"(?<=[.!?])\s+")


def said(text: str) -> set[str]:
    """The sentences of a customer's line, normalised: the unit a customer never repeats."""
    return {" ".join(s.lower().split()) for s in _SPLIT.split(text.strip()) if s}


def fresh(candidates: list[str], used: set[str]) -> str | None:
    """The first candidate none of whose sentences was said before, or None."""
    for line in candidates:
        if line and not said(line) & used:
            return line
    return None


# Said before a line when every candidate was used: a long session still never repeats itself.
_AGAIN = ("Like I said, ", "Look, ", "Honestly, ", "Again, ", "I'll be straight with you: ", "The thing is, ",
          "I keep coming back to this: ", "Really, ", "Let me be clear: ", "To be honest, ")


def pick(candidates: list[str], state: CustomerState, parts: list[str]) -> str:
    """A line from `candidates` not said in this session (nor earlier in this reply), recorded as
    said. Deterministic: the first unused one, then the same lines with a lead-in."""
    line = fresh(candidates, state.used)
    if line is None:
        variants = [lead + c[0].lower() + c[1:] for lead in _AGAIN for c in candidates if c]
        line = fresh(variants, state.used)
    if line is None:  # every variant used: a session hundreds of turns long
        line = f"{candidates[0]} ({len(state.used)})" if candidates else "Hm."
    state.used |= said(line)
    parts.append(line)
    return line


def pool(name: str) -> list[str]:
    return [str(line) for line in playbook()[name]]


def objection_lines(persona: PersonaView, objection: Objection) -> list[str]:
    """How this customer voices an objection: their own lines first, then the playbook's."""
    return [*persona.lines.get(objection, []), *playbook()["customer"][objection.value]]


def _handled(persona: PersonaView, shown: set[Technique], pushes: int) -> bool:
    empathy = Technique.acknowledge_objection in shown
    value = bool(shown & {Technique.value_statement, Technique.trial_close})
    if persona.difficulty == "easy":
        return empathy or value
    if persona.difficulty == "medium":
        return (empathy and value) or (pushes >= 2 and (empathy or value))
    return empathy and value and pushes >= 2


# How many times a customer voices an objection the salesperson does nothing with before leaving.
WALK_AFTER = {"easy": 6, "medium": 5, "hard": 4}
NEEDS_TURNS = 2  # discovery questions a role-play customer answers before raising an objection


def reaction(shown: set[Technique]) -> str | None:
    """What the customer reacts to in the salesperson's turn, when it did not settle an objection:
    the playbook's reaction pool it draws from."""
    if shown & {Technique.closing_attempt, Technique.trial_close} and Technique.acknowledge_objection not in shown:
        return "closed_early"
    if Technique.acknowledge_objection in shown:
        return "acknowledged"
    if Technique.value_statement in shown:
        return "pitched"
    return None


# A persona's budget that reads as an amount ("about $350 a month"), so "My budget is ..." says it.
_AMOUNT = re.compile(r"^\s*(?:about|around|roughly|under|below|up to|at most|no more than|less than|\$|\d)",
                     re.IGNORECASE)


def needs_lines(persona: PersonaView) -> list[str]:
    """What the customer says about what they want, from the persona (the playbook's `needs`)."""
    lines = []
    for line in pool("needs"):
        if ("{vehicle}" in line and not persona.vehicle) or (
                "{budget}" in line and not _AMOUNT.match(persona.budget)):
            continue
        lines.append(line.replace("{vehicle}", persona.vehicle).replace("{budget}", persona.budget))
    return lines


def customer_reply(persona: PersonaView, history: list[tuple[str, str, dict[str, Any]]],
                   user_text: str) -> tuple[str, dict[str, Any]]:
    """The customer's next line and its tags ({"objection": ..., "resolved": ..., "stage": ...}).

    Stages: the opening line; answers to a couple of discovery questions (needs); the persona's
    objections in order, each voiced until handled (objections); then agreement or a request for
    the next step (resolution), or leaving after being ignored too often (walk_out). The customer
    reacts to what the salesperson just did and never says the same sentence twice in a session."""
    shown = set(tagging.techniques(user_text))
    state = customer_state(history)
    tags: dict[str, Any] = {"objection": None, "resolved": None, "stage": "opening", "by": "offline"}
    parts: list[str] = []
    if state.turns == 0:
        opening = persona.opening_line or f"Hi, I'm {persona.name}. I'm interested in {persona.vehicle}."
        state.used |= said(opening)
        return opening, tags
    if state.walked:
        tags["stage"] = "walk_out"
        return pick(pool("after_walk"), state, parts), tags
    if state.agreed:
        tags["stage"] = "resolution"
        return pick(pool("after_buy"), state, parts), tags
    current = state.current
    if current is not None:
        if not _handled(persona, shown, state.pushes):
            tags["objection"] = current.value
            tags["stage"] = "objections"
            react = reaction(shown)
            tags["stalled"] = react is None
            if react is None and state.stalls + 1 >= WALK_AFTER[persona.difficulty]:
                tags["stage"] = "walk_out"
                return pick(pool("walk_out"), state, parts), tags
            if Technique.discovery_question in shown and "?" in user_text:
                # Asked about it: say what is behind the concern rather than repeat it.
                tags["stalled"] = False
                pick([str(line) for line in playbook()["concern"][current.value]]
                     + objection_lines(persona, current), state, parts)
                return " ".join(parts), tags
            if react is not None and state.pushes >= 1:
                pick([str(line) for line in playbook()["reactions"][react]], state, parts)
            pick(objection_lines(persona, current), state, parts)
            return " ".join(parts), tags
        tags["resolved"] = current.value
        state.resolved.add(current)
        pick([persona.agree_line, *pool("agree")] if persona.agree_line else pool("agree"), state, parts)
    elif Technique.discovery_question in shown and not state.raised:
        tags["stage"] = "needs"
        pick(needs_lines(persona), state, parts)
        if state.needs + 1 < NEEDS_TURNS:
            return " ".join(parts), tags
    upcoming = [o for o in persona.objections if o not in state.raised and o not in state.resolved]
    if upcoming:
        tags["objection"] = upcoming[0].value
        tags["stage"] = "objections"
        pick(objection_lines(persona, upcoming[0]), state, parts)
    elif shown & {Technique.closing_attempt, Technique.trial_close}:
        tags["stage"] = "resolution"
        tags["agreed"] = True
        pick(pool("buy"), state, parts)
    else:
        tags["stage"] = "resolution"
        if not parts:
            pick(pool("next_step"), state, parts)
    return " ".join(parts), tags


def chunks(text: str, size: int = 3) -> list[str]:
    """Split an offline answer into word groups, streamed like a model's tokens."""
    pieces = re.findall(r"\S+\s*", text)
    return ["".join(pieces[i:i + size]) for i in range(0, len(pieces), size)] or [text]
