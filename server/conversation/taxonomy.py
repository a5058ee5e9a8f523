"""The words a conversation is described in: objection types and sales techniques.

Persona files, the offline classifier, the LLM tagging schema and the scorecard all use these
values, so a tag means the same thing wherever it appears.
"""

from __future__ import annotations

import enum


class Objection(enum.StrEnum):
    price = "price"
    trade_in = "trade_in"
    monthly_payment = "monthly_payment"
    think_about_it = "think_about_it"
    spouse = "spouse"
    competitor = "competitor"
    fi_products = "fi_products"


class Technique(enum.StrEnum):
    greeting_rapport = "greeting_rapport"
    discovery_question = "discovery_question"
    acknowledge_objection = "acknowledge_objection"
    value_statement = "value_statement"
    trial_close = "trial_close"
    closing_attempt = "closing_attempt"


class Dimension(enum.StrEnum):
    rapport = "rapport"
    discovery = "discovery"
    objection_handling = "objection_handling"
    value_building = "value_building"
    closing = "closing"


OBJECTION_LABELS: dict[Objection, str] = {
    Objection.price: "the price is too high",
    Objection.trade_in: "the trade-in value is too low",
    Objection.monthly_payment: "the monthly payment is too high",
    Objection.think_about_it: "I need to think about it",
    Objection.spouse: "my spouse has to see it first",
    Objection.competitor: "another dealer offered a better deal",
    Objection.fi_products: "I don't want the extra F&I products",
}

# How a summary names them: "the customer's price objection".
OBJECTION_NAMES: dict[Objection, str] = {
    Objection.price: "price",
    Objection.trade_in: "trade-in",
    Objection.monthly_payment: "monthly payment",
    Objection.think_about_it: "think-about-it",
    Objection.spouse: "spouse",
    Objection.competitor: "competitor",
    Objection.fi_products: "F&I products",
}

# Which techniques count as evidence for each scorecard dimension.
DIMENSION_TECHNIQUES: dict[Dimension, tuple[Technique, ...]] = {
    Dimension.rapport: (Technique.greeting_rapport,),
    Dimension.discovery: (Technique.discovery_question,),
    Dimension.objection_handling: (Technique.acknowledge_objection,),
    Dimension.value_building: (Technique.value_statement,),
    Dimension.closing: (Technique.trial_close, Technique.closing_attempt),
}
