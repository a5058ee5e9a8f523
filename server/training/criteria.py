"""The built-in rubrics' criteria: their keys, and how the offline judge scores each.

The keys are shared by the built-in rubric files, the online judge's instructions and the
offline judge (`offline_judge.py`), so they are defined once, here. A dealership's own (custom)
criterion keys are judged offline from the words of their label and description (see
`OFFLINE_RULES["custom"]`).
"""

from __future__ import annotations

from server.conversation.taxonomy import Dimension
from server.training.spec import GENERAL_RUBRIC_ID, CriterionSpec, RubricSpec

# Rubric ids of the built-ins (the general one is `spec.GENERAL_RUBRIC_ID`).
LAER_RUBRIC_ID = "laer-objections"
NEEDS_RUBRIC_ID = "needs-analysis"
FI_MENU_RUBRIC_ID = "fi-menu"

LAER = ("listen", "acknowledge", "explore", "respond", "confirm")
NEEDS = ("open_questions", "budget", "usage", "timeline", "decision_maker", "trade_in", "summarise")
FI_MENU = ("every_product", "optional", "payment_before", "payment_after")
GENERAL = tuple(d.value for d in Dimension)  # rapport, discovery, objection_handling, value_building, closing

# How the offline judge scores each key: what it reads in the tagged transcript. Shown in the
# docs and usable as a criterion's description; the online judge reads the description too.
OFFLINE_RULES: dict[str, str] = {
    "listen": "after each objection, the trainee's next turn takes up the customer's own words (or asks about "
              "them) instead of a prepared pitch",
    "acknowledge": "the trainee acknowledges the concern (\"I understand\", \"that's fair\") before answering it, "
                   "without simply agreeing or dismissing it",
    "explore": "the trainee asks a clarifying question about the concern before answering it (the step most "
               "people skip)",
    "respond": "the trainee answers the concern with value, options or evidence once it is clear (after "
               "exploring it); the customer letting the objection go counts most",
    "confirm": "after answering, the trainee checks the concern is settled (\"does that address it?\")",
    "open_questions": "open questions (what, how, why, tell me) rather than yes/no questions, and several of them",
    "budget": "asks about the budget or payment target and the customer gives it",
    "usage": "asks how the vehicle will be used and the customer says",
    "timeline": "asks when the customer needs the vehicle and the customer says",
    "decision_maker": "asks who else is involved in the decision and the customer says",
    "trade_in": "asks about the current vehicle or trade-in and the customer says",
    "summarise": "plays back what the customer said (\"so if I understand ...\") before presenting",
    "every_product": "every F&I product on the menu presented (service contract, GAP, tire and wheel, "
                     "maintenance, appearance): the share presented",
    "optional": "products presented as the customer's choice, without pressure",
    "payment_before": "the monthly payment disclosed before any product is presented",
    "payment_after": "the payment with the chosen products disclosed after presenting them",
    "rapport": "greets and builds rapport",
    "discovery": "asks discovery questions; uncovering the scenario's hidden facts counts most",
    "objection_handling": "each objection raised is acknowledged and answered, and let go by the customer",
    "value_building": "connects the vehicle's value to what the customer said",
    "closing": "trial closes and asks for the sale or a committed next step, once objections are handled",
    "custom": "a criterion of the dealership's own: the trainee turns sharing words (stemmed) with its label and "
              "description; the reason says it was judged by word overlap",
}


def _criterion(key: str, label: str, description: str, scale: str = "0-3", weight: float = 1.0) -> CriterionSpec:
    return CriterionSpec.model_validate({"key": key, "label": label, "description": description, "scale": scale,
                                         "weight": weight})


LAER_RUBRIC = RubricSpec(
    name="LAER objection handling",
    description="Listen, Acknowledge, Explore, Respond: clarify the real concern before answering it, and "
                "confirm it is resolved.",
    criteria=[
        _criterion("listen", "Listen", "Lets the customer state the concern and takes up their words."),
        _criterion("acknowledge", "Acknowledge", "Acknowledges the concern (without simply agreeing)."),
        _criterion("explore", "Explore", "Asks questions to clarify the real concern before answering.",
                   weight=1.5),
        _criterion("respond", "Respond", "Answers the concern once it is clear, with value or options.",
                   weight=1.5),
        _criterion("confirm", "Confirm", "Checks that the concern is resolved."),
    ])

NEEDS_RUBRIC = RubricSpec(
    name="Needs analysis",
    description="Discovery before presenting: budget, usage, timeline, who decides and the trade-in, asked "
                "with open questions and summarised back.",
    criteria=[
        _criterion("open_questions", "Open questions", "Asks open questions rather than yes/no questions."),
        _criterion("budget", "Budget or payment", "Finds out the budget or payment target.", "binary"),
        _criterion("usage", "Usage", "Finds out how the vehicle will be used.", "binary"),
        _criterion("timeline", "Timeline", "Finds out when the customer needs the vehicle.", "binary"),
        _criterion("decision_maker", "Decision maker", "Finds out who else decides.", "binary"),
        _criterion("trade_in", "Trade-in", "Finds out about the current vehicle.", "binary"),
        _criterion("summarise", "Summarise", "Summarises the customer's needs back before presenting.", "binary"),
    ])

FI_MENU_RUBRIC = RubricSpec(
    name="F&I menu presentation",
    description="100/100/100: every product, to every customer, presented as optional, with the payment shown "
                "before and after the products.",
    criteria=[
        _criterion("every_product", "Every product presented", "Presents every product on the menu.", weight=2),
        _criterion("optional", "Presented as optional", "Presents the products as the customer's choice.",
                   "binary"),
        _criterion("payment_before", "Payment before products", "Discloses the payment before the products.",
                   "binary"),
        _criterion("payment_after", "Payment after products", "Discloses the payment with the products.",
                   "binary"),
    ])

GENERAL_RUBRIC = RubricSpec(
    name="General sales conversation",
    description="The five dimensions of the original scorecard.",
    criteria=[
        _criterion("rapport", "Rapport", "Greets and builds rapport.", "1-5"),
        _criterion("discovery", "Discovery", "Asks about the customer's needs.", "1-5"),
        _criterion("objection_handling", "Objection handling", "Handles each objection raised.", "1-5"),
        _criterion("value_building", "Value building", "Builds value tied to the customer's needs.", "1-5"),
        _criterion("closing", "Closing", "Trial closes and asks for a committed next step.", "1-5"),
    ])

BUILTIN_RUBRICS: dict[str, RubricSpec] = {
    LAER_RUBRIC_ID: LAER_RUBRIC,
    NEEDS_RUBRIC_ID: NEEDS_RUBRIC,
    FI_MENU_RUBRIC_ID: FI_MENU_RUBRIC,
    GENERAL_RUBRIC_ID: GENERAL_RUBRIC,
}

KNOWN_KEYS = frozenset(LAER + NEEDS + FI_MENU + GENERAL)

# The needs-analysis keys that are about a hidden fact: a fact whose label or key shares a concept
# with these words is the one the criterion is about.
FACT_TOPICS: dict[str, str] = {
    "budget": "budget payment spend afford",
    "usage": "usage use drive commute",
    "timeline": "timeline when timeframe deadline",
    "decision_maker": "decision maker decide spouse partner involved",
    "trade_in": "trade-in trade vehicle owe payoff",
}
