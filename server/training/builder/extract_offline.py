"""Reading an admin's free answer without a model: plain rules, deterministic.

`read(text, stage, collected)` answers the fields the text gives. What the current stage asks
for is always taken; a field of another stage only fills a gap, unless the answer is a
correction ("actually make her a first-time buyer", "change the budget to $400 a month"), which
overwrites. Objections use the conversation taxonomy's own words (`tagging.objections`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from server.conversation import tagging
from server.conversation.taxonomy import Objection
from server.training.builder.collected import Collected, FactIn
from server.training.builder.stages import Stage
from server.training.spec import GENERAL_RUBRIC_ID


@dataclass
class Reading:
    updates: dict[str, Any] = field(default_factory=dict)  # field -> its new value
    confirmed: bool = False  # review: the admin accepts the draft
    skip: bool = False  # "skip", "you choose": the stage's default


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


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
_CORRECTION = _rx(r"actually", r"change", r"make (?:her|him|them|it|the|that)", r"instead", r"rather",
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
_FIRST_TIME_NO = _rx(r"not (?:a )?first[- ]time(?: car| vehicle)? buyer",
                     r"(?:repeat|returning|loyal) (?:customer|buyer)",
                     r"(?:has|have|had) bought (?:a )?(?:cars?|vehicles?|from us|here) before", r"experienced buyer",
                     r"no longer a first[- ]time", r"(?:isn't|is not|not) (?:her|his|their) first (?:car|vehicle)")
FIRST_TIME_YES = _rx(r"first[- ]time(?: car| vehicle)? buyer", r"(?:never|hasn't|has not) (?:bought|owned|purchased) a "
                      r"(?:car|vehicle)", r"buying (?:her|his|their) (?:very )?first (?:car|vehicle)",
                      r"(?:her|his|their) (?:very )?first (?:car|vehicle)")

# --- vehicles and money ---------------------------------------------------------------------

MAKES: dict[str, str] = {m.lower(): m for m in (
    "Honda", "Toyota", "Ford", "Chevrolet", "Nissan", "Hyundai", "Kia", "Subaru", "Mazda", "Volkswagen", "BMW",
    "Mercedes", "Mercedes-Benz", "Audi", "Lexus", "Acura", "Jeep", "Ram", "GMC", "Dodge", "Chrysler", "Buick",
    "Cadillac", "Tesla", "Volvo", "Infiniti", "Lincoln", "Mitsubishi", "Porsche", "Genesis", "Jaguar", "Mini",
    "Fiat", "Rivian", "Polestar", "Lucid")} | {"chevy": "Chevrolet", "vw": "Volkswagen", "merc": "Mercedes"}
MODELS: dict[str, tuple[str, str]] = {m.lower(): (m, make) for make, models in {
    "Honda": ("Civic", "Accord", "CR-V", "HR-V", "Pilot", "Odyssey", "Passport", "Ridgeline", "Fit"),
    "Toyota": ("Camry", "Corolla", "RAV4", "Highlander", "Tacoma", "Tundra", "Sienna", "Prius", "4Runner",
               "Sequoia", "Venza", "Supra"),
    "Ford": ("F-150", "F150", "Explorer", "Escape", "Mustang", "Bronco", "Edge", "Expedition", "Ranger", "Maverick",
             "Focus", "Fusion"),
    "Chevrolet": ("Silverado", "Equinox", "Tahoe", "Suburban", "Malibu", "Traverse", "Colorado", "Camaro",
                  "Corvette", "Trax", "Blazer", "Bolt"),
    "Nissan": ("Altima", "Rogue", "Sentra", "Pathfinder", "Frontier", "Murano", "Kicks", "Leaf", "Titan"),
    "Hyundai": ("Elantra", "Sonata", "Tucson", "Kona", "Palisade", "Ioniq"),
    "Kia": ("Sorento", "Sportage", "Telluride", "Forte", "Soul", "Seltos", "Carnival"),
    "Subaru": ("Outback", "Forester", "Crosstrek", "Impreza", "Ascent", "WRX"),
    "Mazda": ("CX-5", "CX-30", "CX-50", "CX-9", "CX-90", "Mazda3", "Miata"),
    "Volkswagen": ("Jetta", "Golf", "Tiguan", "Atlas", "Passat"),
    "Jeep": ("Wrangler", "Cherokee", "Compass", "Gladiator", "Renegade"),
    "Ram": ("1500", "2500"),
    "Tesla": ("Cybertruck",),
    "Dodge": ("Charger", "Challenger", "Durango"),
}.items() for m in models}
_TWO_WORD_MODELS: dict[str, tuple[str, str]] = {
    "grand cherokee": ("Grand Cherokee", "Jeep"), "santa fe": ("Santa Fe", "Hyundai"),
    "model 3": ("Model 3", "Tesla"), "model y": ("Model Y", "Tesla"), "model s": ("Model S", "Tesla"),
    "model x": ("Model X", "Tesla"), "range rover": ("Range Rover", "Land Rover"),
    "grand caravan": ("Grand Caravan", "Dodge"), "land cruiser": ("Land Cruiser", "Toyota"),
}
_BODY = re.compile(r"\b((?:(?:new|used|certified|pre-owned|family|small|compact|midsize|mid-size|full-size|"
                   r"electric|hybrid|luxury|cheap|reliable|safe|sporty|fuel-efficient|three-row|7-seater|big)\s+){1,3}"
                   r"(?:suv|truck|pickup|minivan|sedan|hatchback|coupe|crossover|ev|car|van|convertible|wagon)|"
                   r"(?:suv|pickup|minivan|sedan|hatchback|crossover|convertible))\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'-]*")
_YEAR = re.compile(r"^(?:19[89]\d|20[0-4]\d)$")
_TRADE_CUE = _rx(r"trad(?:e|es|ed|ing)(?:[- ]in)?", r"current(?:ly)?", r"owns?", r"has an?", r"drives? an?",
                 r"driving an?", r"(?:her|his|their) old", r"paid off", r"payoff", r"owe[sd]?", r"got an?")
_WANT_CUE = _rx(r"wants?", r"looking (?:at|for)", r"interested in", r"shopping for", r"buy(?:ing|s)?", r"new",
                r"for an?", r"test[- ]dr(?:ive|ove|iving)", r"considering", r"eyeing", r"likes?", r"loves?",
                r"came in for", r"upgrade to", r"into an?", r"vehicle (?:is|to)", r"change (?:it|the vehicle) to")
_CLAUSE = re.compile(r"[.;!?\n]+|,(?!\d{3})|\bbut\b|\band\b(?! also)", re.IGNORECASE)

_MONEY = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\s*(k\b|grand\b)?|"
                    r"\b(\d{1,3}(?:,\d{3})+|\d+)\s*(k|grand|dollars|bucks)\b", re.IGNORECASE)
_MONTHLY_AFTER = re.compile(r"^\s*(?:a|per|/|each|every)\s*(?:month|mo)\b|^\s*(?:monthly|/mo)\b", re.IGNORECASE)
_BUDGET_CUE = _rx(r"budget", r"under", r"below", r"max(?:imum)?", r"at most", r"no more than", r"up to",
                  r"afford", r"spend", r"keep", r"payments?", r"target", r"less than", r"tops", r"cap", r"around",
                  r"about", r"wants? to pay", r"can do", r"comfortable")

# --- objections, difficulty and tone -------------------------------------------------------------

_OBJECTION_CUE = _rx(r"object\w*", r"worr(?:y|ied|ies)", r"concern\w*", r"push(?:es)? back", r"complain\w*",
                     r"hesitan\w*", r"balk\w*", r"(?:won't|doesn't|does not|will not) like", r"hates?",
                     r"too (?:high|expensive|much|low)",
                     r"will say", r"raises?", r"argue\w*", r"(?:not|un)happy", r"afraid", r"nervous about",
                     r"resist\w*", r"fight\w*", r"pushback", r"stall\w*")
_REMOVE_CUE = _rx(r"remove", r"drop", r"delete", r"take out", r"no more", r"without", r"get rid of", r"forget",
                  r"not (?:the|a|an)?", r"no longer", r"don't", r"doesn't", r"instead of")
_ADD_CUE = _rx(r"add", r"also", r"plus", r"another", r"as well", r"too")
_DIFFICULTY: list[tuple[str, re.Pattern[str]]] = [
    ("hard", _rx(r"hard", r"tough", r"difficult", r"challenging", r"aggressive", r"advanced", r"brutal",
                 r"expert", r"stubborn")),
    ("medium", _rx(r"medium", r"moderate", r"normal", r"average", r"intermediate", r"middle", r"realistic",
                   r"standard", r"in between", r"mid")),
    ("easy", _rx(r"easy", r"gentle", r"soft", r"beginner", r"simple", r"mild", r"pushover")),
]
_HARDER = _rx(r"tougher", r"harder", r"more difficult", r"more challenging")
_EASIER = _rx(r"easier", r"softer", r"gentler", r"less difficult", r"less tough")
_DIFFICULTY_CUE = _rx(r"difficulty", r"level", r"make (?:it|her|him|them)", r"should be", r"set (?:it|the)",
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
    ("laer-objections", _rx(r"laer", r"objection[- ]handling")),
    ("needs-analysis", _rx(r"needs[- ]analysis", r"discovery")),
    ("fi-menu", _rx(r"f&i", r"f and i", r"menu")),
    (GENERAL_RUBRIC_ID, _rx(r"general(?: sales)?")),
]
_RUBRIC_CUE = _rx(r"rubric", r"judged?", r"scored?", r"grade[ds]?", r"us(?:e|ing)", r"with the", r"against")
_PASS = re.compile(r"\bpass(?:ing)?(?:\s+(?:mark|score|at|threshold|grade|bar|line))?\s*(?:of|is|at|to|=|:|should be)?"
                   r"\s*(\d{1,3})\s*%?|\b(\d{1,3})\s*%?\s*to pass\b", re.IGNORECASE)
_TIME = re.compile(r"\b(\d{1,3})\s*-?\s*(minutes?|mins?|seconds?|secs?)\b", re.IGNORECASE)
_TIME_CUE = _rx(r"limit", r"time", r"within", r"under", r"max(?:imum)?", r"at most", r"long", r"timed", r"cap")
_NO_TIME = _rx(r"no time limit", r"untimed", r"without a time limit")
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
    if (budget := _budget(text)) is not None:
        found["budget"] = budget
    if (said := _SITUATION.search(text)) is not None:
        found["situation"] = (said.group(1) or said.group(2)).strip()[:2000]
    elif stage is Stage.vehicle and vehicle is None and len(_TOKEN.findall(text)) >= 5:
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


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(text) if c and c.strip()]


def vehicles(text: str) -> tuple[str | None, str | None]:
    """The vehicle wanted and the trade-in, by the nearest cue before each mention in its clause."""
    wanted: str | None = None
    trade: str | None = None
    clauses = re.split(r"[.;!?\n,]+|\bbut\b|\band\b", text, flags=re.IGNORECASE)
    named = [(clause, _mentions(clause)) for clause in clauses]
    # A named vehicle ("a Silverado") wins over a kind of vehicle ("a new truck") said beside it.
    specific = any(mentions and mentions[0][2] for _, mentions in named)
    for clause, found in named:
        mentions = [(start, mention) for start, mention, is_named in found if is_named or not specific]
        if not mentions:
            continue
        trade_ends = [m.end() for m in _TRADE_CUE.finditer(clause)]
        want_ends = [m.end() for m in _WANT_CUE.finditer(clause)]
        for start, mention in mentions:
            trade_at = _last_before(trade_ends, start)
            want_at = _last_before(want_ends, start)
            if trade_at > want_at and trade is None:
                trade = mention
            elif trade_at <= want_at and wanted is None:
                wanted = mention
    return wanted, trade


def _last_before(ends: list[int], start: int) -> int:
    """The end of the last cue that ends at or before `start` (-1: none); `ends` is sorted."""
    at = bisect.bisect_right(ends, start)
    return ends[at - 1] if at else -1


def _mentions(clause: str) -> list[tuple[int, str, bool]]:
    """(position, vehicle, named?) for each vehicle in the clause: a make or model ("2019 Honda
    Civic", "RAV4"), else a kind of vehicle ("used family SUV", not named)."""
    tokens = [(m.start(), m.group()) for m in _TOKEN.finditer(clause)]
    found: list[tuple[int, str, bool]] = []
    i = 0
    while i < len(tokens):
        start, word = tokens[i]
        j, year = i, None
        if _YEAR.match(word):
            year, j = word, i + 1
        make = model = None
        if j < len(tokens) and tokens[j][1].lower() in MAKES:
            make, j = MAKES[tokens[j][1].lower()], j + 1
        pair = " ".join(t[1].lower() for t in tokens[j:j + 2])
        if pair in _TWO_WORD_MODELS:
            model, inferred = _TWO_WORD_MODELS[pair]
            make, j = make or inferred, j + 2
        elif j < len(tokens) and tokens[j][1].lower() in MODELS and not (year is None and make is None and
                                                                          tokens[j][1].isdigit()):
            model, inferred = MODELS[tokens[j][1].lower()]
            make, j = make or inferred, j + 1
        elif make is not None and j < len(tokens) and _model_like(tokens[j][1]):
            model, j = tokens[j][1], j + 1
        if make is not None or model is not None:
            found.append((start, " ".join(p for p in (year, make, model) if p), True))
            i = j
            continue
        i += 1
    if not found and (body := _BODY.search(clause)) is not None:
        found.append((body.start(), body.group(1), False))
    return found


def _model_like(word: str) -> bool:
    """A word after a make that names its model: "Honda Pilot", "Ford F-250" (not "Toyota of")."""
    return (word[:1].isupper() or any(c.isdigit() for c in word)) and word.lower() not in _NOT_NAMES


def money(text: str) -> list[tuple[int, str, bool]]:
    """(position, "$30,000", monthly?) for each amount in `text`."""
    found = []
    for match in _MONEY.finditer(text):
        digits = (match.group(1) or match.group(3)).replace(",", "")
        suffix = (match.group(2) or match.group(4) or "").lower()
        amount = int(digits) * (1000 if suffix in ("k", "grand") else 1)
        after = text[match.end():match.end() + 24]
        before = text[max(0, match.start() - 40):match.start()].lower()
        monthly = bool(_MONTHLY_AFTER.match(after)) or "monthly" in before or "payment" in before \
            or "a month" in after[:12]
        found.append((match.start(), f"${amount:,}", monthly))
    return found


def _budget(text: str) -> str | None:
    for clause in _clauses(text):
        amounts = money(clause)
        if amounts and _BUDGET_CUE.search(clause) and not _TRADE_CUE.search(clause[:amounts[0][0]]):
            _, amount, monthly = amounts[0]
            return f"{amount} a month" if monthly else amount
    return None


def _objections(text: str, stage: Stage, collected: Collected, correcting: bool) -> list[Objection] | None:
    if stage is Stage.objections:
        named = named_objections(text)
        return named or None
    current = list(collected.objections or [])
    changed = False
    for clause in _clauses(text):
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
    for clause in _clauses(text):
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
        if len(_TOKEN.findall(goal)) >= 2:
            found["goal"] = _capital(goal)[:2000]
    elif (said := _GOAL_SAID.search(text)) is not None:
        found["goal"] = _capital(said.group(1).strip())[:2000]
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
        if (age_of(clause) is not None and len(_TOKEN.findall(clause)) <= 3) or re.fullmatch(r"\d{2}", clause):
            continue
        if FIRST_TIME_YES.search(clause) or _FIRST_TIME_NO.search(clause) or _mentions(clause) or money(clause):
            continue
        if named_objections(clause) and _OBJECTION_CUE.search(clause):
            continue
        kept.append(clause[len(name):].lstrip(" ,:-") if name and clause.startswith(name) else clause)
    notes = "; ".join(k for k in kept if k)
    return notes[:500] or None


# --- hidden facts ---------------------------------------------------------------------------------

_FACT_SPLIT = re.compile(r"\n+|;|(?<=[.!?])\s+|,?\s+\band\b\s+(?=(?:she|he|they|her|his|their|i|my)\b)",
                         re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_TOPICS: list[tuple[str, re.Pattern[str]]] = [
    ("competing offer", _rx(r"quote", r"other dealer\w*", r"competitor\w*", r"offer(?:ed)? (?:from|at|by)",
                            r"another (?:dealer\w*|store)", r"across town")),
    ("trade-in payoff", _rx(r"owe[sd]?", r"payoff", r"pay ?off", r"upside[- ]down", r"negative equity", r"loan")),
    ("current payment", _rx(r"pay(?:s|ing)? \$", r"current(?:ly)? pay\w*", r"payment (?:is|of|on)", r"a month on")),
    ("credit", _rx(r"credit", r"fico", r"score", r"bankrupt\w*", r"pre-?approv\w*")),
    ("trade-in", _rx(r"trade[- ]?in", r"trading", r"(?:her|his|their|my) (?:old|current) (?:car|truck|vehicle)")),
    ("family", _rx(r"wife", r"husband", r"spouse", r"partner", r"kids?", r"children", r"baby", r"family",
                   r"daughter", r"son", r"mother", r"father", r"parents?")),
    ("timing", _rx(r"lease (?:ends?|is up|expires?)", r"by (?:monday|tuesday|wednesday|thursday|friday|saturday|"
                   r"sunday|the end|next)", r"deadline", r"this week(?:end)?", r"need(?:s)? (?:it|a car) by",
                   r"before", r"moving")),
    ("budget", _rx(r"budget", r"afford", r"max(?:imum)?", r"down payment", r"cash")),
    ("driving needs", _rx(r"commut\w*", r"miles", r"drives? (?:to|for)", r"tow\w*", r"job", r"work(?:s)?")),
]
_FIRST_PERSON: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:she|he|they)(?:'s|\u2019s| is| are)\b", re.IGNORECASE), "I'm"),
    (re.compile(r"\b(?:she|he|they) (?:has|have)\b", re.IGNORECASE), "I have"),
    (re.compile(r"\b(?:she|he|they) (?:was|were)\b", re.IGNORECASE), "I was"),
    (re.compile(r"\b(?:she|he|they) (?:does|do)\b", re.IGNORECASE), "I do"),
    (re.compile(r"\b(?:herself|himself|themselves)\b", re.IGNORECASE), "myself"),
]
_SUBJECT_VERB = re.compile(r"\b(she|he|they) (\w+)\b", re.IGNORECASE)
_HER_OBJECT = re.compile(r"\b(her|him|them)\b(?=\s*(?:$|[.,;!?]|to\b|for\b|about\b|that\b|and\b|if\b|a\b|an\b|the\b|"
                         r"\$|\d|into\b|up\b|off\b|back\b|on\b|in\b))", re.IGNORECASE)
_UNCHANGED = {"can", "could", "will", "would", "should", "might", "must", "may", "did", "had", "never", "just",
              "already", "only", "also", "still", "really", "always", "plus"}
_POSSESSIVE = re.compile(r"\b(?:her|his|their)\b", re.IGNORECASE)


def hidden_facts(text: str) -> list[FactIn]:
    facts: list[FactIn] = []
    for item in _FACT_SPLIT.split(text):
        item = _BULLET.sub("", item or "").strip().rstrip(".").strip()
        item = re.sub(r"^(?:also|and|plus|oh and)\s*,?\s*", "", item, flags=re.IGNORECASE)
        if len(_TOKEN.findall(item)) < 3:
            continue
        facts.append(FactIn(label=label_of(item)[:200], value=(_capital(first_person(item)) + ".")[:2000]))
    return facts[:20]


def first_person(text: str) -> str:
    """A fact told about the customer, as the customer would say it: "she owes $4,000 on her
    Civic" -> "I owe $4,000 on my Civic"."""
    for pattern, replacement in _FIRST_PERSON:
        text = pattern.sub(replacement, text)

    def verb(match: re.Match[str]) -> str:
        word = match.group(2)
        lowered = word.lower()
        if lowered in _UNCHANGED or lowered.endswith("ss") or not lowered.endswith("s"):
            return f"I {word}"
        if lowered.endswith("ies"):
            return f"I {word[:-3]}y"
        if re.search(r"(?:sh|ch|x|o)es$", lowered) or lowered.endswith("sses"):
            return f"I {word[:-2]}"
        return f"I {word[:-1]}"

    text = _SUBJECT_VERB.sub(verb, text)
    text = _HER_OBJECT.sub("me", text)
    return _POSSESSIVE.sub("my", text)


def label_of(item: str) -> str:
    for label, pattern in _TOPICS:
        if pattern.search(item):
            return label
    words = [w for w in _TOKEN.findall(first_person(item)) if w.lower() not in {"i", "i'm", "my", "me", "a", "the"}]
    return " ".join(words[:5]) or "fact"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
