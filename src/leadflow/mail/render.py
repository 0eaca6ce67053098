"""Render a named template into subject and plain-text body.

Templates live in ``mail/templates/<name>.subject.j2`` and ``<name>.txt.j2``. Variables:

- ``lead_assigned``: ``niche_name``, ``provider_name``, ``level_name``, ``amount`` ("$49.00"),
  ``lead_id``.
- ``low_balance``: ``provider_name``, ``balance`` ("$3.00"), ``level_name``, ``niche_name``,
  ``price`` ("$10.00").
- ``lead_confirmation``: ``niche_name``, ``name``, ``token``.
- ``return_decided``: ``status`` (approved|denied), ``niche_name``, ``provider_name``,
  ``lead_id``, ``reason``, ``decision_reason``, ``refund`` ("$49.00"), ``balance`` (or None).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, meta


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
    names = _subject_variables(template)
    subject = _subject(template, tuple(str(variables[name]) for name in names))
    body = _environment().get_template(f"{template}.txt.j2").render(**variables)
    return RenderedMail(subject=subject, body_text=body)


@functools.cache
def _subject_variables(template: str) -> tuple[str, ...]:
    """The variables a subject template uses (a subject names few: the niche, say)."""
    env = _environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, f"{template}.subject.j2")
    return tuple(sorted(meta.find_undeclared_variables(env.parse(source))))


@functools.lru_cache(maxsize=1024)
def _subject(template: str, values: tuple[str, ...]) -> str:
    """A rendered subject, kept: a run's mails share theirs, and it is rendered once."""
    variables = dict(zip(_subject_variables(template), values, strict=True))
    subject = _environment().get_template(f"{template}.subject.j2").render(**variables)
    return " ".join(subject.split())
