"""The offline judge: scores a scenario's rubric from the tagged transcript, with quotes.

One reading of the session: the trainee's turns (techniques from `conversation/tagging.py`,
finer signals from `signals.py`), the customer's turns (the objection voiced, the one let go,
the facts revealed, the stage), and from them an episode per objection (the trainee's turns
between the customer raising it and letting it go). Every criterion is first judged on one
ladder, 0 (not shown) to 4 (shown well every time), then placed on its own scale (binary,
0-3, 1-5), so a rubric's scale changes the resolution, not the judgement. Every score quotes
the trainee's own sentences, checked by `evidence.verify`; a criterion the judge cannot see in
the transcript scores at the bottom of its scale: an offline judge must never pass a session
that should fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.conversation import offline, tagging
from server.conversation.taxonomy import OBJECTION_NAMES, Objection, Technique
from server.training import criteria
from server.training import facts as fact_rules
from server.training.evidence import verify
from server.training.signals import Signal, products, sentences, showing, showing_technique, signals
from server.training.spec import (
    SCALE_MAX,
    SCALE_MIN,
    CriterionResult,
    CriterionSpec,
    Evidence,
    FactResult,
    FrozenScenario,
    HiddenFact,
    Verdict,
    overall,
)

TOP = 4  # the judge's own ladder: 0 not shown ... 4 shown well every time
# A customer leaving, in a model-played customer's words (the offline customer tags it).
_LEAVING = re.compile(r"\b(?:i'm|i am) (?:going to go|leaving|out of here|done here|heading out)\b|"
                      r"\btake my business elsewhere\b|\bi've heard enough\b", re.IGNORECASE)
MAX_QUOTES = 2
_TECHNIQUES = frozenset(t.value for t in Technique)


@dataclass
class TranscriptLine:
    message_id: str
    role: str  # "user" (the trainee) or "assistant" (the customer)
    text: str
    tags: dict[str, Any]


@dataclass
class Turn:
    """A trainee turn, read once."""

    index: int  # 1-based among the trainee's turns
    message_id: str
    text: str
    shown: frozenset[Technique]
    found: frozenset[Signal]

    def quote(self, sentence: str | None = None) -> Evidence:
        return Evidence(message_id=self.message_id, quote=sentence or sentences(self.text)[0])


@dataclass
class Episode:
    """One objection, from the customer raising it to letting it go (or the end)."""

    objection: str
    raised_text: str  # the customer's words when raising it
    turns: list[Turn] = field(default_factory=list)  # the trainee's, while it was open
    resolved: bool = False


@dataclass
class Reading:
    turns: list[Turn] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    facts: list[FactResult] = field(default_factory=list)
    agreed: bool = False
    walked_out: bool = False
    customer_lines: list[tuple[int, str]] = field(default_factory=list)  # (trainee turns before it, text)


@dataclass
class Judged:
    level: int  # 0..TOP
    reason: str
    evidence: list[Evidence] = field(default_factory=list)


def _techniques(line: TranscriptLine) -> frozenset[Technique]:
    listed = line.tags.get("techniques")
    if isinstance(listed, list):
        return frozenset(Technique(t) for t in listed if t in _TECHNIQUES)
    return frozenset(tagging.techniques(line.text))


def read(scenario: FrozenScenario, lines: list[TranscriptLine]) -> Reading:
    reading = Reading()
    open_: dict[str, Episode] = {}
    pressing: list[str] = []
    explicit = any("resolved" in line.tags and line.tags.get("by") == "offline" for line in lines
                   if line.role == "assistant")
    already: set[str] = set()
    found_at: dict[str, FactResult] = {}
    last_trainee: Turn | None = None
    for line in lines:
        if line.role == "user":
            turn = Turn(len(reading.turns) + 1, line.message_id, line.text, _techniques(line),
                        frozenset(signals(line.text)))
            reading.turns.append(turn)
            last_trainee = turn
            if pressing:
                open_[pressing[-1]].turns.append(turn)
            continue
        tags = line.tags
        reading.customer_lines.append((len(reading.turns), line.text))
        reading.agreed |= bool(tags.get("agreed"))
        reading.walked_out |= tags.get("stage") == "walk_out"
        # Facts: as tagged per turn, else (an older or model-tagged message) judged here the same way.
        listed = tags.get("facts_revealed")
        keys = [str(k) for k in listed] if isinstance(listed, list) else fact_rules.revealed(
            scenario.spec.hidden_facts, last_trainee.text if last_trainee else "", line.text, already)
        for key in keys:
            if key not in already:
                already.add(key)
                found_at[key] = FactResult(key=key, label="", uncovered=True, message_id=line.message_id,
                                           turn=last_trainee.index if last_trainee else None)
        raised = tags.get("objection")
        resolved = tags.get("resolved")
        leaving = bool(_LEAVING.search(line.text)) and not explicit
        reading.walked_out |= leaving
        for name in list(pressing):
            episode = open_[name]
            # A model-played customer says no "resolved": moving on after an answer (not merely a
            # question, and not by leaving) is letting it go.
            answered = any(_responds(t) for t in episode.turns)
            let_go = name == resolved or (not explicit and answered and not leaving and name != raised)
            if let_go and name != raised:
                episode.resolved = True
                pressing.remove(name)
        if raised:
            if raised not in open_ or open_[raised].resolved:
                episode = Episode(str(raised), line.text)
                open_[str(raised)] = episode
                reading.episodes.append(episode)
            if raised in pressing:
                pressing.remove(raised)
            pressing.append(str(raised))
    for fact in scenario.spec.hidden_facts:
        hit = found_at.get(fact.key)
        reading.facts.append(FactResult(key=fact.key, label=fact.label, uncovered=hit is not None,
                                        message_id=hit.message_id if hit else None, turn=hit.turn if hit else None))
    return reading


# ---- LAER ----------------------------------------------------------------------------------------

def _responds(turn: Turn) -> bool:
    return bool(turn.shown & {Technique.value_statement, Technique.trial_close}) or Signal.optional in turn.found


def _explores(turn: Turn) -> bool:
    return Signal.explore in turn.found or fact_rules.is_open_question(turn.text)


def _no_episodes(rubric_word: str) -> Judged:
    return Judged(0, f"The customer raised no objection in this session, so {rubric_word} could not be shown.")


def _per_episode(reading: Reading, name: str, points: Callable[[Episode], tuple[float, list[Evidence]]],
                 what: str) -> Judged:
    """Mean over the objections of 0..2 points each, on the 0..4 ladder."""
    if not reading.episodes:
        return _no_episodes(name)
    # An objection raised in the customer's last words gave the trainee no turn to handle it.
    episodes = [e for e in reading.episodes if e.turns] or reading.episodes
    scored = [(episode, *points(episode)) for episode in episodes]
    level = round(TOP * sum(p for _, p, _ in scored) / (2 * len(scored)))
    evidence = [e for _, _, found in scored for e in found][:MAX_QUOTES]
    good = [_objection_name(e.objection) for e, p, _ in scored if p >= 2]
    weak = [_objection_name(e.objection) for e, p, _ in scored if p < 2]
    parts = [f"{what.capitalize()}: done for the {_names(good)} objection." if good else f"{what.capitalize()}: "
             "not done for any objection."]
    if good and weak:
        parts.append(f"Not (fully) for the {_names(weak)} objection.")
    return Judged(level, " ".join(parts), evidence)


def _listen(reading: Reading) -> Judged:
    def points(episode: Episode) -> tuple[float, list[Evidence]]:
        if not episode.turns:
            return 0, []
        first = episode.turns[0]
        if first.found & {Signal.dismiss, Signal.pressure}:
            return 0, []
        theirs = {w for w in offline.words(episode.raised_text) - _GENERIC if w not in _NUMBERS and not w[0].isdigit()}
        echoed = theirs & offline.words(first.text)
        if _explores(first) or Signal.summarise in first.found or echoed:
            sentence = showing(first.text, Signal.explore) or showing(first.text, Signal.summarise) or next(
                (s for s in sentences(first.text) if theirs & offline.words(s)), None) or first.text
            return 2, [first.quote(sentence)]
        if Technique.acknowledge_objection in first.shown:
            return 1, [first.quote(showing_technique(first.text, Technique.acknowledge_objection))]
        return 0, []
    return _per_episode(reading, "listening", points, "taking up the customer's own concern in the next reply")


def _acknowledge(reading: Reading) -> Judged:
    def points(episode: Episode) -> tuple[float, list[Evidence]]:
        dismissed = any(t.found & {Signal.dismiss} for t in episode.turns)
        for position, turn in enumerate(episode.turns):
            if Technique.acknowledge_objection in turn.shown:
                earned = 2 if position == 0 else 1.5
                return (1 if dismissed else earned), [turn.quote(
                    showing_technique(turn.text, Technique.acknowledge_objection))]
        return 0, []
    return _per_episode(reading, "acknowledging", points, "acknowledging the concern")


def _explore(reading: Reading) -> Judged:
    def points(episode: Episode) -> tuple[float, list[Evidence]]:
        first_response = next((i for i, t in enumerate(episode.turns) if _responds(t) and not _explores(t)), None)
        for position, turn in enumerate(episode.turns):
            if _explores(turn):
                sentence = showing(turn.text, Signal.explore) or next(iter(fact_rules.questions(turn.text)), None)
                before = first_response is None or position < first_response
                return (2 if before else 1), [turn.quote(sentence)]
        return 0, []
    return _per_episode(reading, "exploring", points, "asking what is behind the concern before answering it")


def _respond(reading: Reading) -> Judged:
    def points(episode: Episode) -> tuple[float, list[Evidence]]:
        explored = False
        for turn in episode.turns:
            if _responds(turn) and not turn.found & {Signal.pressure, Signal.dismiss}:
                sentence = showing_technique(turn.text, Technique.value_statement) or showing(
                    turn.text, Signal.optional) or showing_technique(turn.text, Technique.trial_close)
                clear = explored or _explores(turn)  # answered once the concern was clear
                if episode.resolved:
                    return (2 if clear else 1), [turn.quote(sentence)]
                return (1 if clear else 0.5), [turn.quote(sentence)]
            explored |= _explores(turn)
        return 0, []
    return _per_episode(reading, "responding", points, "answering the concern once it was clear, so the customer "
                        "let it go")


def _confirm(reading: Reading) -> Judged:
    def points(episode: Episode) -> tuple[float, list[Evidence]]:
        responded = explored = False
        trial: Evidence | None = None
        for turn in episode.turns:
            responded |= _responds(turn)
            if responded and Signal.confirm in turn.found:
                # Checking a canned answer landed is not confirming a concern that was never clarified.
                return (2 if explored else 1), [turn.quote(showing(turn.text, Signal.confirm))]
            explored |= _explores(turn)
            if responded and trial is None and Technique.trial_close in turn.shown:
                trial = turn.quote(showing_technique(turn.text, Technique.trial_close))
        return (1, [trial]) if trial else (0, [])
    return _per_episode(reading, "confirming", points, "checking the concern was settled after answering it")


# ---- needs analysis ------------------------------------------------------------------------------

def _open_questions(reading: Reading) -> Judged:
    open_turns = [t for t in reading.turns if fact_rules.is_open_question(t.text)]
    asked = [t for t in reading.turns if fact_rules.is_question(t.text)]
    closed = len(asked) - len(open_turns)
    level = (0, 2, 3)[len(open_turns)] if len(open_turns) < 3 else TOP
    if level == TOP and closed > len(open_turns):
        level = TOP - 1  # mostly yes/no questions, even with several open ones
    quotes = [t.quote(next((q for q in fact_rules.questions(t.text) if fact_rules.is_open_question(q)), None))
              for t in open_turns[:MAX_QUOTES]]
    reason = (f"{len(open_turns)} turn(s) with an open question, {closed} with only closed ones."
              if asked else "The trainee asked no questions.")
    return Judged(level, reason, quotes)


def topic_of(fact: HiddenFact) -> str | None:
    """Which needs-analysis criterion a hidden fact belongs to: the topic sharing most words and
    meanings with its label (a fact labelled "current payment" is the budget, not the trade-in)."""
    mine = fact_rules.fact_words(fact)
    concepts = fact_rules.fact_concepts(fact)
    scored = []
    for order, (key, topic) in enumerate(criteria.FACT_TOPICS.items()):
        stems = offline.words(topic) | fact_rules.content(topic)
        primary = _PRIMARY[key]
        if concepts & primary:
            scored.append((2 * len(mine & stems) + len(concepts & primary), -order, key))
    return max(scored)[2] if scored else None  # (ties: the earlier topic)


_PRIMARY = {"budget": frozenset({"budget", "payment"}), "usage": frozenset({"usage"}),
            "timeline": frozenset({"timeline"}), "decision_maker": frozenset({"decision"}),
            "trade_in": frozenset({"trade"})}


def _topic_facts(scenario: FrozenScenario, key: str) -> list[HiddenFact]:
    return [f for f in scenario.spec.hidden_facts if topic_of(f) == key]


def _fact_topic(scenario: FrozenScenario, reading: Reading, key: str, label: str) -> Judged:
    topic = _topic_facts(scenario, key)
    results = {r.key: r for r in reading.facts}
    if topic:
        uncovered = [results[f.key] for f in topic if results[f.key].uncovered]
        if uncovered:
            hit = uncovered[0]
            turn = next((t for t in reading.turns if t.index == hit.turn), None)
            quote = turn.quote(next(iter(fact_rules.questions(turn.text)), None)) if turn else None
            return Judged(TOP, f"Uncovered {label} (\"{_fact_label(scenario, hit.key)}\") in turn {hit.turn}.",
                          [quote] if quote else [])
        asked = next((t for t in reading.turns for f in topic if fact_rules.asked_about(f, t.text)), None)
        if asked is not None:
            return Judged(1, f"Asked near {label}, but the customer never gave it.",
                          [asked.quote(next(iter(fact_rules.questions(asked.text)), None))])
        return Judged(0, f"Never asked about {label}; the customer's {label} stayed hidden.")
    probe = HiddenFact(key=key.replace("_", "-"), label=criteria.FACT_TOPICS[key], value="-")
    asked = next((t for t in reading.turns if fact_rules.asked_about(probe, t.text)), None)
    if asked is not None:
        return Judged(3, f"Asked about {label} (the scenario holds no hidden fact on it).",
                      [asked.quote(next(iter(fact_rules.questions(asked.text)), None))])
    return Judged(0, f"Never asked about {label}.")


def _summarise(reading: Reading) -> Judged:
    learned = any(r.uncovered for r in reading.facts) or any(_explores(t) for t in reading.turns)
    for turn in reading.turns:
        if Signal.summarise in turn.found:
            quote = turn.quote(showing(turn.text, Signal.summarise))
            if learned and turn.index > 1:
                return Judged(TOP, "Played back what the customer said.", [quote])
            return Judged(1, "Summarised before learning anything from the customer.", [quote])
    return Judged(0, "Never played back what the customer said.")


# ---- F&I menu ------------------------------------------------------------------------------------

# The menu when neither the scenario nor the criterion names one: the four products every F&I
# menu carries (appearance and key products count when presented, but are not required).
CORE_MENU = frozenset({"service_contract", "gap", "tire_wheel", "maintenance"})


def _menu(scenario: FrozenScenario) -> set[str]:
    """The products the trainee must present: those the scenario names (two or more), else
    those the F&I criterion's description names, else the core four."""
    named = products(f"{scenario.spec.situation} {scenario.spec.goal}")
    if len(named) >= 2:
        return named
    described = products(" ".join(c.description for c in scenario.rubric.criteria if c.key == "every_product"))
    return described if len(described) >= 2 else set(CORE_MENU)


def _every_product(scenario: FrozenScenario, reading: Reading) -> Judged:
    menu = _menu(scenario)
    seen: dict[str, Evidence] = {}
    for turn in reading.turns:
        for sentence in sentences(turn.text):
            for kind in products(sentence) & menu:
                seen.setdefault(kind, turn.quote(sentence))
    share = len(seen) / len(menu)
    missing = sorted(menu - set(seen))
    level = TOP if share == 1 else min(TOP - 1, round(TOP * share))
    reason = f"Presented {len(seen)} of {len(menu)} products" + (
        f"; not presented: {', '.join(m.replace('_', ' ') for m in missing)}." if missing else ".")
    return Judged(level, reason, list(seen.values())[:MAX_QUOTES])


def _optional(reading: Reading) -> Judged:
    pushed = [t for t in reading.turns if Signal.pressure in t.found]
    chose = [t for t in reading.turns if Signal.optional in t.found]
    if pushed:
        return Judged(0, "Pressed the products on the customer instead of offering them as a choice.",
                      [pushed[0].quote(showing(pushed[0].text, Signal.pressure))])
    if chose:
        return Judged(TOP if len(chose) > 1 else 3, "Presented the products as the customer's choice.",
                      [t.quote(showing(t.text, Signal.optional)) for t in chose[:MAX_QUOTES]])
    return Judged(0, "Never said the products were optional.")


def _payment(reading: Reading, after: bool) -> Judged:
    first_product: tuple[int, int] | None = None
    figures: list[tuple[tuple[int, int], Turn, str]] = []
    for turn in reading.turns:
        for position, sentence in enumerate(sentences(turn.text)):
            where = (turn.index, position)
            if products(sentence) and first_product is None:
                first_product = where
            if showing(sentence, Signal.payment_figure):
                figures.append((where, turn, sentence))
    if first_product is None:
        return Judged(0, "No product was presented, so there is no payment " + ("after" if after else "before")
                      + " the products to disclose.")
    if after:
        hits = [(t, s) for where, t, s in figures if where >= first_product]
        if hits:
            return Judged(TOP, "Disclosed the payment with the products.", [hits[-1][0].quote(hits[-1][1])])
        return Judged(0, "Never stated the payment with the products included.")
    hits = [(t, s) for where, t, s in figures if where < first_product]
    if hits:
        return Judged(TOP, "Disclosed the payment before presenting any product.", [hits[0][0].quote(hits[0][1])])
    return Judged(0, "Presented products before stating the payment.")


# ---- general sales (the five dimensions) ---------------------------------------------------------

def _technique_count(reading: Reading, wanted: set[Technique], name: str) -> Judged:
    showing_turns = [t for t in reading.turns if t.shown & wanted]
    level = 0 if not showing_turns else min(TOP, 1 + len(showing_turns))
    quotes = [t.quote(next((showing_technique(t.text, w) for w in wanted if w in t.shown), None))
              for t in showing_turns[:MAX_QUOTES]]
    return Judged(level, f"{len(showing_turns)} turn(s) showing {name}." if showing_turns else f"Never showed {name}.",
                  quotes)


def _discovery(scenario: FrozenScenario, reading: Reading) -> Judged:
    asked = _technique_count(reading, {Technique.discovery_question}, "a discovery question")
    if not scenario.spec.hidden_facts:
        return asked
    uncovered = [r for r in reading.facts if r.uncovered]
    level = round(TOP * len(uncovered) / len(reading.facts))
    level = min(level, asked.level) if asked.level else level
    return Judged(level, f"Uncovered {len(uncovered)} of {len(reading.facts)} hidden facts. {asked.reason}",
                  asked.evidence)


def _objection_handling(reading: Reading) -> Judged:
    if not reading.episodes:
        return Judged(2, "No objection came up, so objection handling was not tested.")
    points = []
    quotes: list[Evidence] = []
    for episode in reading.episodes:
        acked = any(Technique.acknowledge_objection in t.shown for t in episode.turns)
        explored = any(_explores(t) for t in episode.turns)
        responded = any(_responds(t) for t in episode.turns)
        if episode.resolved:
            points.append(4 if acked and (explored or responded) else 3)
        else:
            points.append(1 if acked or responded else 0)
        for turn in episode.turns:
            if turn.shown & {Technique.acknowledge_objection, Technique.value_statement}:
                quotes.append(turn.quote(showing_technique(turn.text, Technique.acknowledge_objection)
                                         or showing_technique(turn.text, Technique.value_statement)))
                break
    level = round(sum(points) / len(points))
    open_ = [_objection_name(e.objection) for e in reading.episodes if not e.resolved]
    if open_:
        level = min(level, 2)
    settled = [_objection_name(e.objection) for e in reading.episodes if e.resolved]
    reason = (f"Resolved the {_names(settled)} objection. " if settled else "") + (
        f"The {_names(open_)} objection was left open." if open_ else "Every objection was resolved.")
    return Judged(level, reason.strip(), quotes[:MAX_QUOTES])


def _closing(reading: Reading) -> Judged:
    judged = _technique_count(reading, {Technique.trial_close, Technique.closing_attempt}, "a close")
    if reading.agreed:
        return Judged(max(judged.level, 3), judged.reason + " The customer agreed.", judged.evidence)
    if reading.walked_out:
        return Judged(min(judged.level, 1), judged.reason + " The customer walked out.", judged.evidence)
    if any(not e.resolved for e in reading.episodes):
        return Judged(min(judged.level, 2), judged.reason + " Objections were still open.", judged.evidence)
    return judged


# ---- custom criteria -----------------------------------------------------------------------------

def _custom(criterion: CriterionSpec, reading: Reading) -> Judged:
    wanted = offline.words(f"{criterion.label} {criterion.description}") - _GENERIC
    if not wanted:
        return Judged(0, "Judged offline by word overlap, but the criterion has no content words to look for.")
    need = 1 if len(wanted) <= 2 else 2
    full = max(need, (len(wanted) + 1) // 2)  # half its words in one turn: shown squarely
    strong: list[tuple[Turn, str]] = []
    weak: list[tuple[Turn, str]] = []
    best_overlap = 0
    for turn in reading.turns:
        best = max(sentences(turn.text), key=lambda s: len(wanted & offline.words(s)), default=turn.text)
        overlap = len(wanted & offline.words(turn.text))
        best_overlap = max(best_overlap, overlap)
        if overlap >= need:
            strong.append((turn, best))
        elif overlap:
            weak.append((turn, best))
    level = (TOP if best_overlap >= full or len(strong) > 1 else TOP - 1) if strong else 1 if weak else 0
    note = "Judged offline by word overlap with the criterion's label and description: "
    if strong:
        reason = note + f"{len(strong)} turn(s) use its words."
    elif weak:
        reason = note + "only passing mentions of its words."
    else:
        reason = note + "none of its words were used."
    return Judged(level, reason, [t.quote(s) for t, s in (strong or weak)[:MAX_QUOTES]])


# ---- the verdict ---------------------------------------------------------------------------------

def on_scale(level: int, scale: str) -> int:
    """The judge's 0..4 ladder on a rubric scale: binary is met from the middle up."""
    if scale == "binary":
        return 1 if level >= 2 else 0
    low, high = SCALE_MIN[scale], SCALE_MAX[scale]
    # Rounded down from a quarter: a partial showing (2 on the ladder) is 1 on 0-3, never "mostly".
    return low + int((high - low) * level / TOP + 0.25)


def judge_criterion(criterion: CriterionSpec, scenario: FrozenScenario, reading: Reading) -> Judged:
    key = criterion.key
    simple: dict[str, Callable[[Reading], Judged]] = {
        "listen": _listen, "acknowledge": _acknowledge, "explore": _explore, "respond": _respond,
        "confirm": _confirm, "open_questions": _open_questions, "summarise": _summarise, "optional": _optional,
        "objection_handling": _objection_handling, "closing": _closing,
    }
    if key in simple:
        return simple[key](reading)
    if key in criteria.FACT_TOPICS:
        return _fact_topic(scenario, reading, key, criterion.label.lower())
    if key == "every_product":
        return _every_product(scenario, reading)
    if key in {"payment_before", "payment_after"}:
        return _payment(reading, after=key == "payment_after")
    if key == "rapport":
        return _technique_count(reading, {Technique.greeting_rapport}, "rapport")
    if key == "value_building":
        return _technique_count(reading, {Technique.value_statement}, "value")
    if key == "discovery":
        return _discovery(scenario, reading)
    return _custom(criterion, reading)


def goal_met(scenario: FrozenScenario, reading: Reading) -> bool | None:
    """Whether the scenario's goal was reached, read from what the goal asks for: facts uncovered,
    objections resolved, the sale or a committed next step; without a goal, None."""
    goal = scenario.spec.goal.lower()
    if not goal.strip():
        return None
    checks: list[bool] = []
    if re.search(r"\b(?:uncover|discover|find out|find what|learn|ask about|needs analysis|fact|facts|discovery)\b",
                 goal) and reading.facts:
        checks.append(sum(r.uncovered for r in reading.facts) >= max(1, (2 * len(reading.facts) + 2) // 3))
    if re.search(r"\b(?:objection|objections|concern|concerns|resolve|overcome|handle)\b", goal):
        checks.append(bool(reading.episodes) and all(e.resolved for e in reading.episodes))
    if re.search(r"\b(?:close|sale|sell|sign|buy|deal|commit|appointment|book|test drive|next step|agree)", goal):
        checks.append(reading.agreed)
    if re.search(r"\b(?:product|products|menu|f&i)\b", goal):
        menu = _menu(scenario)
        presented = set().union(*(products(t.text) for t in reading.turns)) if reading.turns else set()
        checks.append(menu <= presented)
    if not checks:  # a goal in other words: the customer came round without walking out
        checks.append(not reading.walked_out and all(e.resolved for e in reading.episodes) and bool(reading.turns))
    return all(checks) and not reading.walked_out


def judge(scenario: FrozenScenario, lines: list[TranscriptLine]) -> Verdict:
    reading = read(scenario, lines)
    mine = {t.message_id: t.text for t in reading.turns}
    results: list[CriterionResult] = []
    for criterion in scenario.rubric.criteria:
        judged = judge_criterion(criterion, scenario, reading)
        kept, dropped = verify(judged.evidence, mine)
        reason = judged.reason
        if dropped:
            reason += f" ({len(dropped)} quote(s) dropped: not the trainee's own words.)"
        score = on_scale(judged.level, criterion.scale) if reading.turns else SCALE_MIN[criterion.scale]
        results.append(CriterionResult(key=criterion.key, label=criterion.label, score=score,
                                       max=SCALE_MAX[criterion.scale], reason=reason, evidence=kept))
    met = goal_met(scenario, reading)
    return Verdict(criteria=results, facts=reading.facts, goal_met=met,
                   summary=_summary(scenario, results, reading, met), generated_by="offline")


def passes(scenario: FrozenScenario, verdict: Verdict) -> bool:
    """Pass: the weighted score reaches the pass mark and the goal (when the judge could tell) was met."""
    return overall(verdict.criteria, scenario.rubric) >= scenario.spec.pass_score and verdict.goal_met is not False


def _summary(scenario: FrozenScenario, results: list[CriterionResult], reading: Reading, met: bool | None) -> str:
    def position(r: CriterionResult) -> float:
        scale = next((c.scale for c in scenario.rubric.criteria if c.key == r.key), "1-5")
        low, high = SCALE_MIN[scale], SCALE_MAX[scale]
        return (r.score - low) / (high - low)

    strong = [r.label for r in results if position(r) >= 0.75]
    weak = [r.label for r in results if position(r) < 0.5]
    parts = [f"Strongest: {_names(strong)}." if strong else "No strong area yet."]
    if weak:
        parts.append(f"Work on {_names(weak)}.")
    if reading.facts:
        parts.append(f"Uncovered {sum(r.uncovered for r in reading.facts)} of {len(reading.facts)} hidden facts.")
    if reading.walked_out:
        parts.append("The customer walked out.")
    if met is not None:
        parts.append("Goal met." if met else "Goal not met.")
    return " ".join(parts)


_GENERIC = offline.words("car vehicle really think need want like just good great okay sure well "
                         "yeah yes right thing lot time today")


_NUMBERS = offline.words("one two three four five six seven eight nine ten twenty thirty forty fifty sixty seventy "
                         "eighty ninety hundred thousand grand")


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _objection_name(value: str) -> str:
    try:
        return OBJECTION_NAMES[Objection(value)]
    except ValueError:
        return value.replace("_", " ")


def _fact_label(scenario: FrozenScenario, key: str) -> str:
    return next((f.label for f in scenario.spec.hidden_facts if f.key == key), key)
