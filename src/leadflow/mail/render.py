"""Render a named template into subject and plain-text body.

Templates live in ``mail/templates/<name>.subject.j2`` and ``<name>.txt.j2``. Variables:

- ``lead_assigned``: ``niche_name``, ``provider_name``, ``level_name``, ``amount`` ("$49.00"),
  ``lead_id``.
- ``low_balance``: ``provider_name``, ``balance`` ("$3.00"), ``level_name``, ``niche_name``,
  ``price`` ("$10.00").
- ``lead_confirmation``: ``niche_name``, ``name``, ``token``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    body_text: str


@functools.cache
def _environment() -> Environment:
    # Plain-text mails: no HTML escaping; undefined variables are bugs, so they raise.
    return Environment(
        loader=PackageLoader("leadflow.mail", "templates"),
        autoescape=False,  # text/plain bodies, never rendered as HTML
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        # Templates ship with the package: no stat of their files at every render.
        auto_reload=False,
    )


def render(template: str, **variables: Any) -> RenderedMail:
    """Render ``template`` with ``variables``; the subject is one line."""
    env = _environment()
    subject = env.get_template(f"{template}.subject.j2").render(**variables).strip()
    body = env.get_template(f"{template}.txt.j2").render(**variables)
    return RenderedMail(subject=" ".join(subject.split()), body_text=body)
