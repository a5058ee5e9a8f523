"""Vehicles and money in an admin's answer or a customer's words: "a 2024 Honda CR-V", the
trade-in ("trading in her 2019 Civic"), "$450 a month", "55k"."""

from __future__ import annotations

import bisect
import re

from server.training.builder.words import TOKEN, clauses, rx

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
_YEAR = re.compile(r"^(?:19[89]\d|20[0-4]\d)$")
_TRADE_CUE = rx(r"trad(?:e|es|ed|ing)(?:[- ]in)?", r"current(?:ly)?", r"owns?", r"has an?", r"drives? an?",
                 r"driving an?", r"(?:her|his|their) old", r"paid off", r"payoff", r"owe[sd]?", r"got an?")
_WANT_CUE = rx(r"wants?", r"looking (?:at|for)", r"interested in", r"shopping for", r"buy(?:ing|s)?", r"new",
                r"for an?", r"test[- ]dr(?:ive|ove|iving)", r"considering", r"eyeing", r"likes?", r"loves?",
                r"came in for", r"upgrade to", r"into an?", r"vehicle (?:is|to)", r"change (?:it|the vehicle) to")

_MONEY = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\s*(k\b|grand\b)?|"
                    r"\b(\d{1,3}(?:,\d{3})+|\d+)\s*(k|grand|dollars|bucks)\b", re.IGNORECASE)
_MONTHLY_AFTER = re.compile(r"^\s*(?:a|per|/|each|every)\s*(?:month|mo)\b|^\s*(?:monthly|/mo)\b", re.IGNORECASE)
_BUDGET_CUE = rx(r"budget", r"under", r"below", r"max(?:imum)?", r"at most", r"no more than", r"up to",
                  r"afford", r"spend", r"keep", r"payments?", r"target", r"less than", r"tops", r"cap", r"around",
                  r"about", r"wants? to pay", r"can do", r"comfortable")
# Words after a make that are not its model ("Honda The ...").
_NOT_MODELS = {"she", "he", "they", "it", "the", "a", "an", "and", "but", "her", "his", "their", "i", "we", "or"}


def vehicles(text: str) -> tuple[str | None, str | None]:
    """The vehicle wanted and the trade-in, by the nearest cue before each mention in its clause."""
    wanted: str | None = None
    trade: str | None = None
    parts = re.split(r"[.;!?\n,]+|\bbut\b|\band\b", text, flags=re.IGNORECASE)
    named = [(clause, mentions(clause)) for clause in parts]
    # A named vehicle ("a Silverado") wins over a kind of vehicle ("a new truck") said beside it.
    specific = any(found and found[0][2] for _, found in named)
    for clause, found in named:
        chosen = [(start, mention) for start, mention, is_named in found if is_named or not specific]
        if not chosen:
            continue
        trade_ends = [m.end() for m in _TRADE_CUE.finditer(clause)]
        want_ends = [m.end() for m in _WANT_CUE.finditer(clause)]
        for start, mention in chosen:
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


def mentions(clause: str) -> list[tuple[int, str, bool]]:
    """(position, vehicle, named?) for each vehicle in the clause: a make or model ("2019 Honda
    Civic", "RAV4"), else a kind of vehicle ("used family SUV", not named)."""
    tokens = [(m.start(), m.group()) for m in TOKEN.finditer(clause)]
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
    return (word[:1].isupper() or any(c.isdigit() for c in word)) and word.lower() not in _NOT_MODELS


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


def budget(text: str) -> str | None:
    for clause in clauses(text):
        amounts = money(clause)
        if amounts and _BUDGET_CUE.search(clause) and not _TRADE_CUE.search(clause[:amounts[0][0]]):
            _, amount, monthly = amounts[0]
            return f"{amount} a month" if monthly else amount
    return None
