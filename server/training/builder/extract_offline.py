"""Reading an admin's free answer without a model: plain rules, deterministic.

`read(text, stage, collected)` answers the fields the text gives. What the current stage asks
for is always taken; a field of another stage only fills a gap, unless the answer is a
correction ("actually make her a first-time buyer", "change the budget to $400 a month"), which
overwrites. Objections use the conversation taxonomy's own words (`tagging.objections`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from server.conversation import tagging
from server.conversation.taxonomy import Objection
from server.training.builder.collected import Collected
from server.training.builder.facts import hidden_facts
from server.training.builder.stages import Stage
from server.training.builder.vehicles import MAKES, MODELS, budget, mentions, money, vehicles
from server.training.builder.words import TOKEN, capital, clauses, rx
from server.training.spec import GENERAL_RUBRIC_ID


@dataclass
class Reading:
    updates: dict[str, Any] = field(default_factory=dict)  # field -> its new value
    confirmed: bool = False  # review: the admin accepts the draft
    skip: bool = False  # "skip", "you choose": the stage's default




STAGE_FIELDS: dict[Stage, frozenset[str]] = {
    Stage.customer: frozenset({"name", "age", "first_time_buyer", "customer_notes"}),
    Stage.vehicle: frozenset({"vehicle", "trade_in", "budget", "situation"}),
    Stage.objections: frozenset({"objections"}),
    Stage.difficulty: frozenset({"difficulty", "tone"}),
    Stage.hidden_facts: frozenset({"hidden_facts"}),
    Stage.goal: frozenset({"goal", "rubric_id", "pass_score", "time_limit_s"}),
    Stage.review: frozenset(),
}

_FREE_TEXT = frozenset({"hidden_facts", "goal", "situation", "customer_notes"})
_CORRECTION = rx(r"actually", r"change", r"make (?:her|him|them|it|the|that)", r"instead", r"rather",
                  r"correction", r"update", r"set (?:the|her|his|their|it)", r"switch", r"no,", r"wait",
                  r"scratch that", r"should be", r"rename", r"call (?:her|him|them)", r"remove", r"drop",
                  r"add", r"take out", r"get rid of", r"replace", r"not (?:a|an) ", r"isn't", r"is not")
_NONE = re.compile(r"^\s*(?:none|no|nothing|nope|n/?a|no (?:hidden )?(?:facts?|objections?)(?: at all)?|"
                   r"there (?:are|is) none|none at all|no,? none)\s*[.!]*\s*$", re.IGNORECASE)
_SKIP = re.compile(r"^\s*(?:skip(?: it| this)?|pass|next|no idea|i don'?t know|don'?t know|dunno|idk|"
                   r"you (?:choose|pick|decide)|whatever|up to you|default|doesn'?t matter|any)\s*[.!]*\s*$",
                   re.IGNORECASE)
_CONFIRM = re.compile(r"^\s*(?:yes|yep|yeah|ok(?:ay)?|looks (?:good|great|fine|right)|lgtm|done|perfect|great|"
                      r"good|fine|correct|that'?s (?:it|right|all|good|fine|perfect)|all good|save(?: it)?|"
                      r"finish(?:ed)?|ship it|sounds good|go ahead|approved?|confirm(?:ed)?)\b", re.IGNORECASE)

# --- the customer -------------------------------------------------------------------------

_NAME_SAID = re.compile(r"\b(?:name(?:'s| is)|called|call (?:her|him|them)|named|rename (?:her|him|them)(?: to)?|"
                        r"make (?:her|his|their) name)\s+([A-Z][a-z'\u2019-]+(?:\s+[A-Z][a-z'\u2019-]+)?)")
_NAME_FIRST = re.compile(r"^\s*(?:(?:the )?customer(?: is|:)?\s+|it'?s\s+|this is\s+|meet\s+)?"
                         r"((?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?[A-Z][a-z'\u2019-]+(?:\s+[A-Z][a-z'\u2019-]+)?)\b")
_NOT_NAMES = {
    "she", "he", "they", "it", "the", "a", "an", "this", "that", "customer", "her", "his", "their", "i", "we",
    "make", "actually", "change", "and", "but", "so", "well", "ok", "okay", "yes", "no", "first", "new", "used",
    "let", "young", "old", "someone", "somebody", "guy", "lady", "woman", "man", "couple", "retired", "none",
    "skip", "hard", "easy", "medium", "price", "probably", "maybe", "just", "our", "my", "your",
}
_AGE = [re.compile(r"\b(\d{2})(?:\s*|-)(?:years?|yrs?)(?:[- ]old)?\b", re.IGNORECASE),
        re.compile(r"\baged?\s*(?:is\s*)?(\d{2})\b", re.IGNORECASE),
        re.compile(r"\b(\d{2})\s*y/?o\b", re.IGNORECASE),
        re.compile(r"\b(?:she|he|they)(?:'s| is| are)\s+(\d{2})\b", re.IGNORECASE)]
_AGE_AFTER_NAME = re.compile(r"^[^,\d]{1,40},\s*(\d{2})\b")
_FIRST_TIME_NO = rx(r"not (?:a )?first[- ]time(?: car| vehicle)? buyer",
                     r"(?:repeat|returning|loyal) (?:customer|buyer)",
                     r"(?:has|have|had) bought (?:a )?(?:cars?|vehicles?|from us|here) before", r"experienced buyer",
                     r"no longer a first[- ]time", r"(?:isn't|is not|not) (?:her|his|their) first (?:car|vehicle)")
FIRST_TIME_YES = rx(r"first[- ]time(?: car| vehicle)? buyer", r"(?:never|hasn't|has not) (?:bought|owned|purchased) a "
                      r"(?:car|vehicle)", r"buying (?:her|his|their) (?:very )?first (?:car|vehicle)",
                      r"(?:her|his|their) (?:very )?first (?:car|vehicle)")

# --- objections, difficulty and tone -------------------------------------------------------------

_OBJECTION_CUE = rx(r"object\w*", r"worr(?:y|ied|ies)", r"concern\w*", r"push(?:es)? back", r"complain\w*",
                     r"hesitan\w*", r"balk\w*", r"(?:won't|doesn't|does not|will not) like", r"hates?",
                     r"too (?:high|expensive|much|low)",
                     r"will say", r"raises?", r"argue\w*", r"(?:not|un)happy", r"afraid", r"nervous about",
                     r"resist\w*", r"fight\w*", r"pushback", r"stall\w*")
_REMOVE_CUE = rx(r"remove", r"drop", r"delete", r"take out", r"no more", r"without", r"get rid of", r"forget",
                  r"not (?:the|a|an)?", r"no longer", r"don't", r"doesn't", r"instead of")
_ADD_CUE = rx(r"add", r"also", r"plus", r"another", r"as well", r"too")
_DIFFICULTY: list[tuple[str, re.Pattern[str]]] = [
    ("hard", rx(r"hard", r"tough", r"difficult", r"challenging", r"aggressive", r"advanced", r"brutal",
                 r"expert", r"stubborn")),
    ("medium", rx(r"medium", r"moderate", r"normal", r"average", r"intermediate", r"middle", r"realistic",
                   r"standard", r"in between", r"mid")),
    ("easy", rx(r"easy", r"gentle", r"soft", r"beginner", r"simple", r"mild", r"pushover")),
]
_HARDER = rx(r"tougher", r"harder", r"more difficult", r"more challenging")
_EASIER = rx(r"easier", r"softer", r"gentler", r"less difficult", r"less tough")
_DIFFICULTY_CUE = rx(r"difficulty", r"level", r"make (?:it|her|him|them)", r"should be", r"set (?:it|the)",
                      r"tougher", r"harder", r"easier", r"softer")
_LEVELS = ["easy", "medium", "hard"]
TONES = ("friendly", "impatient", "sceptical", "skeptical", "chatty", "quiet", "analytical", "rushed", "nervous",
         "anxious", "polite", "rude", "blunt", "cautious", "price-conscious", "busy", "talkative", "reserved",
         "warm", "grumpy", "curious", "indecisive", "confident", "demanding", "aggressive", "suspicious",
         "cheerful", "direct", "detail-oriented", "emotional", "calm", "hostile", "distracted", "laid-back",
         "frustrated", "annoyed", "excited", "shy", "loud", "sarcastic", "pushy", "patient", "stubborn", "tired")
_TONE = re.compile(r"\b(" + "|".join(re.escape(t) for t in TONES) + r")\b", re.IGNORECASE)

# --- goal and rubric -------------------------------------------------------------------------------

_RUBRIC: list[tuple[str, re.Pattern[str]]] = [
    ("laer-objections", rx(r"laer", r"objection[- ]handling")),
    ("needs-analysis", rx(r"needs[- ]analysis", r"discovery")),
    ("fi-menu", rx(r"f&i", r"f and i", r"menu")),
    (GENERAL_RUBRIC_ID, rx(r"general(?: sales)?")),
]
_RUBRIC_CUE = rx(r"rubric", r"judged?", r"scored?", r"grade[ds]?", r"us(?:e|ing)", r"with the", r"against")
_PASS = re.compile(r"\bpass(?:ing)?(?:\s+(?:mark|score|at|threshold|grade|bar|line))?\s*(?:of|is|at|to|=|:|should be)?"
                   r"\s*(\d{1,3})\s*%?|\b(\d{1,3})\s*%?\s*to pass\b", re.IGNORECASE)
_TIME = re.compile(r"\b(\d{1,3})\s*-?\s*(minutes?|mins?|seconds?|secs?)\b", re.IGNORECASE)
_TIME_CUE = rx(r"limit", r"time", r"within", r"under", r"max(?:imum)?", r"at most", r"long", r"timed", r"cap")
_NO_TIME = rx(r"no time limit", r"untimed", r"without a time limit")
_TITLE = re.compile(r"\b(?:call (?:it|the scenario)|title(?: it)?|name (?:it|the scenario)|titled?)\s*[:\"'\u201c]?\s*"
                    r"([^\"\u201d]{3,200}?)[\"'\u201d.]*\s*$", re.IGNORECASE)
_SITUATION = re.compile(r"\b(?:the )?situation(?: is)?\s*[:-]\s*(.{5,})$|\bthe situation is\s+(.{5,})$",
                        re.IGNORECASE | re.DOTALL)
_GOAL_SAID = re.compile(r"\b(?:the )?goal(?: is| should be)?\s*[:-]?\s*(?:to\s+)?(.{5,})$", re.IGNORECASE | re.DOTALL)


def read(text: str, stage: Stage, collected: Collected) -> Reading:
    text = text.strip()
    if stage is not Stage.review and _SKIP.match(text):
        return Reading(skip=True)
    if stage in (Stage.objections, Stage.hidden_facts) and _NONE.match(text):
        return Reading(updates={"objections" if stage is Stage.objections else "hidden_facts": []})
    correcting = stage is Stage.review or bool(_CORRECTION.search(text))
    found = extract(text, stage, collected, correcting=correcting)
    own = STAGE_FIELDS[stage]
    if correcting and any(k not in own for k in found):
        # "Actually make her a first-time buyer" at the hidden facts question is a correction,
        # not a fact (nor a goal, nor a situation): free-text fields are not read from it.
        found = {k: v for k, v in found.items() if k not in _FREE_TEXT}
    updates = {k: v for k, v in found.items()
               if k in own or correcting or getattr(collected, k) in (None, [])}
    confirmed = stage is Stage.review and not updates and bool(_CONFIRM.match(text))
    return Reading(updates=updates, confirmed=confirmed)


def extract(text: str, stage: Stage, collected: Collected, *, correcting: bool) -> dict[str, Any]:
    """Every field the text gives, whatever stage asked."""
    found: dict[str, Any] = {}
    if (name := _name(text, stage)) is not None:
        found["name"] = name
    if (age := age_of(text)) is not None:
        found["age"] = age
    if _FIRST_TIME_NO.search(text):
        found["first_time_buyer"] = False
    elif FIRST_TIME_YES.search(text):
        found["first_time_buyer"] = True
    vehicle, trade_in = vehicles(text)
    if vehicle is not None:
        found["vehicle"] = vehicle
    if trade_in is not None:
        found["trade_in"] = trade_in
    if (amount := budget(text)) is not None:
        found["budget"] = amount
    if (said := _SITUATION.search(text)) is not None:
        found["situation"] = (said.group(1) or said.group(2)).strip()[:2000]
    elif stage is Stage.vehicle and vehicle is None and len(TOKEN.findall(text)) >= 5:
        found["situation"] = text[:2000]  # a situation in the admin's own words, with no vehicle named
    if (objections := _objections(text, stage, collected, correcting)) is not None:
        found["objections"] = objections
    if (difficulty := _difficulty(text, stage, collected)) is not None:
        found["difficulty"] = difficulty
    tones = list(dict.fromkeys(t.lower() for t in _TONE.findall(text)))
    if (tones and stage in (Stage.customer, Stage.difficulty)) or (tones and correcting):
        found["tone"] = ", ".join(tones)
    if stage is Stage.hidden_facts and (facts := hidden_facts(text)):
        found["hidden_facts"] = facts
    found.update(_goal_fields(text, stage))
    if (title := _TITLE.search(text)) is not None:
        found["title"] = title.group(1).strip()
    if stage is Stage.customer and "name" in found and (notes := _notes(text, found)):
        found["customer_notes"] = notes
    return found


def _name(text: str, stage: Stage) -> str | None:
    if (said := _NAME_SAID.search(text)) is not None and said.group(1).split()[0].lower() not in _NOT_NAMES:
        return said.group(1)
    if stage is Stage.customer and (first := _NAME_FIRST.match(text)) is not None:
        words = first.group(1).split()
        words = [w for w in words if w.lower() not in MAKES and w.lower() not in MODELS]
        if words and words[0].lower().rstrip(".") not in _NOT_NAMES:
            return " ".join(words)
    return None


def age_of(text: str) -> int | None:
    for pattern in (*_AGE, _AGE_AFTER_NAME):
        if (match := pattern.search(text)) is not None and 16 <= int(match.group(1)) <= 100:
            return int(match.group(1))
    return None


def _objections(text: str, stage: Stage, collected: Collected, correcting: bool) -> list[Objection] | None:
    if stage is Stage.objections:
        named = named_objections(text)
        return named or None
    current = list(collected.objections or [])
    changed = False
    for clause in clauses(text):
        named = named_objections(clause)
        if not named:
            continue
        if correcting and _REMOVE_CUE.search(clause):
            current = [o for o in current if o not in named]
            changed = True
        elif (correcting and _ADD_CUE.search(clause)) or _OBJECTION_CUE.search(clause) \
                or (correcting and "objection" in clause.lower()):
            current += [o for o in named if o not in current]
            changed = True
    return current if changed else None


def named_objections(text: str) -> list[Objection]:
    """The objections `text` names, in order: the conversation classifier's (`tagging.objection`,
    most specific first) on each clause, so "the payment is too high" is the payment, not the
    price as well, and "price and trade-in" is both."""
    named: list[Objection] = []
    for clause in clauses(text):
        found = tagging.objection(clause)
        # The admin names the objection itself: "think it over".
        if found is None and re.search(r"\bthink(?:ing)? (?:it )?over\b|\bthink about it\b", clause, re.IGNORECASE):
            found = Objection.think_about_it
        if found is not None and found not in named:
            named.append(found)
    return named


def _difficulty(text: str, stage: Stage, collected: Collected) -> str | None:
    if stage is not Stage.difficulty and not _DIFFICULTY_CUE.search(text):
        return None
    level = _LEVELS.index(collected.difficulty or "medium")
    if _HARDER.search(text):
        return _LEVELS[min(level + 1, 2)]
    if _EASIER.search(text):
        return _LEVELS[max(level - 1, 0)]
    for name, pattern in _DIFFICULTY:
        if pattern.search(text):
            return name
    return None


def _goal_fields(text: str, stage: Stage) -> dict[str, Any]:
    found: dict[str, Any] = {}
    at_goal = stage is Stage.goal
    for rubric_id, pattern in _RUBRIC:
        if pattern.search(text) and (at_goal or _RUBRIC_CUE.search(text)) and (at_goal or "rubric" in text.lower()
                                                                                or "judge" in text.lower()):
            found["rubric_id"] = rubric_id
            break
    if (passing := _PASS.search(text)) is not None:
        score = int(passing.group(1) or passing.group(2))
        if 0 <= score <= 100:
            found["pass_score"] = score
    if _NO_TIME.search(text):
        found["time_limit_s"] = None
    elif (limit := _TIME.search(text)) is not None and _TIME_CUE.search(text):
        seconds = int(limit.group(1)) * (60 if limit.group(2).lower().startswith("min") else 1)
        found["time_limit_s"] = min(max(seconds, 30), 3600)
    if at_goal:
        kept = [c for c in re.split(r"[.;\n]+|,(?!\d{3})", text)
                if c.strip() and not _PASS.search(c) and not _TIME.search(c)
                and not any(p.search(c) for _, p in _RUBRIC) and not re.search(r"\brubric\b", c, re.IGNORECASE)]
        goal = ", ".join(c.strip() for c in kept).strip()
        if len(TOKEN.findall(goal)) >= 2:
            found["goal"] = capital(goal)[:2000]
    elif (said := _GOAL_SAID.search(text)) is not None:
        found["goal"] = capital(said.group(1).strip())[:2000]
    return found


def _notes(text: str, found: dict[str, Any]) -> str | None:
    """What else the admin said about the customer: clauses that were not a name, an age, a
    vehicle, a budget or an objection."""
    kept = []
    for clause in re.split(r"[.;\n]+|,(?!\d{3})", text):
        clause = clause.strip()
        if not clause or clause.lower() in {"and", "but"}:
            continue
        name = str(found.get("name", ""))
        if name and clause.startswith(name) and len(clause.split()) <= len(name.split()) + 1:
            continue
        if (age_of(clause) is not None and len(TOKEN.findall(clause)) <= 3) or re.fullmatch(r"\d{2}", clause):
            continue
        if FIRST_TIME_YES.search(clause) or _FIRST_TIME_NO.search(clause) or mentions(clause) or money(clause):
            continue
        if named_objections(clause) and _OBJECTION_CUE.search(clause):
            continue
        kept.append(clause[len(name):].lstrip(" ,:-") if name and clause.startswith(name) else clause)
    notes = "; ".join(k for k in kept if k)
    return notes[:500] or None
