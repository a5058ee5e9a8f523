"""Email templates: a subject, a plain-text part and an HTML part per template, rendered with
Jinja2 (HTML autoescaped) from `server/mail/templates/<name>.{subject,txt,html}.j2`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).parent / "templates"

# Module-level like a compiled regex: immutable configuration, the cache is Jinja's own.
_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
    undefined=StrictUndefined,  # a missing variable is a bug, not an empty string in someone's inbox
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def names() -> list[str]:
    return sorted({path.name.split(".", 1)[0] for path in TEMPLATE_DIR.glob("*.subject.j2")})


def render(template: str, context: dict[str, Any]) -> Rendered:
    if template not in names():
        raise ValueError(f"no email template named {template!r}")
    subject = _env.get_template(f"{template}.subject.j2").render(context)
    return Rendered(
        # A header: one line, whatever the context holds.
        subject=" ".join(subject.split())[:300],
        text=_env.get_template(f"{template}.txt.j2").render(context),
        html=_env.get_template(f"{template}.html.j2").render(context),
    )
