"""The online customer's instructions for a scenario: the persona's prompt plus the situation, the
objections, the hidden facts with the rule for revealing them, the goal and the rules for staying
in character (`prompts/scenario.txt`)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from string import Template

from server.conversation.prompts import Prompt
from server.conversation.taxonomy import OBJECTION_LABELS
from server.training.spec import FrozenScenario


@cache
def _template() -> tuple[Template, str]:
    source = resources.files("server.training").joinpath("prompts", "scenario.txt").read_text(encoding="utf-8")
    return Template(source), hashlib.sha256(source.encode()).hexdigest()[:12]


def with_scenario(base: Prompt, scenario: FrozenScenario) -> Prompt:
    """`base` (the persona's customer prompt) with the scenario's block; the version names both."""
    tmpl, version = _template()
    spec = scenario.spec
    facts = "\n".join(f"- {fact.label}: \"{fact.value}\"" for fact in spec.hidden_facts) or "- (none)"
    objections = ", ".join(f"{o.value} ({OBJECTION_LABELS[o]})" for o in spec.objections) or "none in particular"
    block = tmpl.safe_substitute(situation=spec.situation or "(not described)", objections=objections,
                                 goal=spec.goal or "(not stated)", facts=facts)
    text = base.text + "\n" + block
    combined = hashlib.sha256(f"{base.version}:{version}".encode()).hexdigest()[:12]
    return Prompt(text, combined)
