"""Form handling shared by the pages: run a use case in a savepoint and answer the form
(``submit``), parse typed fields, the query and form parameters every page declares."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Annotated, Any, Protocol, TypeVar, cast
from uuid import UUID

from fastapi import Form, Query, Response

from leadflow.console.render import redirect
from leadflow.db.connection import Connection
from leadflow.domain.errors import DomainError, InvalidInput

T = TypeVar("T")

PAGE_SIZE = 50
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
Text = Annotated[str, Form(max_length=1000)]


def attempt(tx: Connection, use_case: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run ``use_case`` in a savepoint of the request's transaction: a refused change is rolled
    back whole (the page then shows why) and the transaction stays usable."""
    try:
        with tx.transaction():
            return use_case(), None
    except DomainError as exc:
        return None, exc.detail


def submit(
    tx: Connection,
    use_case: Callable[[], T],
    *,
    to: str | Callable[[T], str] = "",
    flash: str | Callable[[T], str] = "",
    failed: Callable[[str], Response] | None = None,
    shown: Callable[[T], Response] | None = None,
) -> Response:
    """Answer a form: run ``use_case`` (``attempt``); done, 303 to ``to`` with ``flash`` (each
    may be made from the result), or with ``shown`` the page it makes from the result, answered
    to the POST itself (for what is shown once and must travel in no cookie or URL, like a new
    secret); refused, ``failed(reason)`` (the page again, with what was typed and the reason
    beside it) or, without ``failed``, 303 to ``to`` with the reason."""
    result, error = attempt(tx, use_case)
    if error is not None:
        if failed is not None:
            return failed(error)
        if not isinstance(to, str) or not to:
            raise TypeError("a target made from the result needs a failed() page")
        return redirect(to, flash=error, error=True)
    done = cast(T, result)  # no error: the use case returned
    if shown is not None:
        return shown(done)
    target = to if isinstance(to, str) else to(done)
    message = flash if isinstance(flash, str) else flash(done)
    return redirect(target, flash=message)


def field_errors(error: str | None, fields: Collection[str]) -> dict[str, str]:
    """A refusal placed beside its field: ``"url: not https"`` → ``{"url": "not https"}``;
    one that names no field of the form goes under ``""`` (shown above the form)."""
    if not error:
        return {}
    name, sep, rest = error.partition(":")
    if sep and name.strip() in fields:
        return {name.strip(): rest.strip()}
    return {"": error}


def integer(value: str, name: str, *, required: bool = True) -> int | None:
    value = value.strip()
    if not value:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


def dollars_to_cents(value: str, name: str) -> int:
    """``12.50`` or ``12`` (dollars) as cents."""
    text = value.strip().replace(",", "").lstrip("$")
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 2)):
        raise InvalidInput(f"{name} must be an amount in dollars, like 49 or 49.50")
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))


def signed_dollars_to_cents(value: str, name: str) -> int:
    """``-12.50``, ``+5`` or ``5`` (dollars) as signed cents."""
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    return sign * dollars_to_cents(text.lstrip("+-"), name)


def optional_uuid(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput("not a valid id") from None


def codes(value: str) -> list[str]:
    """Postal codes typed with commas, spaces or new lines between them."""
    return [c for c in value.replace(",", " ").split() if c]


def schedule(timezone: str, hours: str) -> dict[str, Any] | None:
    """A schedule typed as a zone and ``mon 09:00-12:00 13:00-17:00; sat 10:00-14:00`` (days
    separated by ``;`` or new lines); both empty: none. The service validates the result."""
    timezone, hours = timezone.strip(), hours.strip()
    if not timezone and not hours:
        return None
    days: dict[str, list[list[str]]] = {}
    for part in hours.replace("\n", ";").split(";"):
        words = part.split()
        if not words:
            continue
        day, intervals = words[0].lower(), words[1:]
        if day in days:
            raise InvalidInput(f"schedule: {day} is listed twice")
        spans = [interval.split("-") for interval in intervals]
        if not spans or any(len(span) != 2 for span in spans):
            raise InvalidInput(f"schedule: write {day}'s hours as HH:MM-HH:MM, e.g. 09:00-17:00")
        days[day] = spans
    return {"timezone": timezone or "UTC", "hours": days}


def price_overrides(value: str) -> list[dict[str, Any]]:
    """Price overrides typed as ``100=59.00, 10001=65`` (postal prefix = dollars)."""
    found = []
    for item in value.replace("\n", ",").split(","):
        if not item.strip():
            continue
        prefix, sep, price = item.partition("=")
        if not sep:
            raise InvalidInput("price overrides: write them as prefix=price, e.g. 100=59.00")
        found.append(
            {
                "postal_prefix": prefix.strip(),
                "price_cents": dollars_to_cents(price, f"the price of prefix {prefix.strip()}"),
            }
        )
    return found


class _InNiche(Protocol):
    @property
    def niche_id(self) -> UUID: ...
    @property
    def niche_name(self) -> str: ...


def niche_choices(subscriptions: Iterable[_InNiche]) -> list[tuple[UUID, str]]:
    """The niches a provider buys in (an endpoint may be for one of them), by name."""
    names = {s.niche_id: s.niche_name for s in subscriptions}
    return sorted(names.items(), key=lambda item: item[1])
