"""A consumer's consent to be contacted (TCPA-style, SPEC §11): what they agreed to, when,
from where. Checked once at intake and stored immutably with the lead."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.domain.errors import InvalidInput

MAX_TEXT = 1000
MAX_VERSION = 100
MAX_URL = 2048
# A client's clock may run a little ahead of ours; a consent captured later than this is not.
MAX_CLOCK_SKEW = timedelta(minutes=5)
URL = re.compile(r"^https?://[^\s\x00]+$")
# What an erasure redacts (migration 0014's trigger allows exactly these to change then).
PERSONAL_FIELDS = ("ip", "user_agent", "page_url", "certificate_url")


@dataclass(frozen=True, slots=True)
class Consent:
    text: str
    captured_at: datetime
    ip: str
    version: str | None = None
    user_agent: str | None = None
    page_url: str | None = None
    certificate_url: str | None = None


def check_consent(consent: Consent, *, now: datetime) -> Consent:
    """The consent as stored (text trimmed, time in UTC, the address in its canonical form), or
    ``InvalidInput`` naming the ``consent`` field that is wrong."""
    text = consent.text.strip()
    if not text or len(text) > MAX_TEXT or "\x00" in text:
        raise InvalidInput(f"consent.text must be 1..{MAX_TEXT} characters")
    if consent.captured_at.tzinfo is None:
        raise InvalidInput("consent.captured_at must carry a time zone offset")
    captured_at = consent.captured_at.astimezone(UTC)
    if captured_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput("consent.captured_at must not be in the future")
    try:
        ip = str(ipaddress.ip_address(consent.ip.strip()))
    except ValueError as exc:
        raise InvalidInput("consent.ip must be an IPv4 or IPv6 address") from exc
    return Consent(
        text=text,
        captured_at=captured_at,
        ip=ip,
        version=_optional(consent.version, "consent.version", MAX_VERSION),
        user_agent=_optional(consent.user_agent, "consent.user_agent", MAX_TEXT),
        page_url=_url(consent.page_url, "consent.page_url"),
        certificate_url=_url(consent.certificate_url, "consent.certificate_url"),
    )


def consent_document(consent: Consent) -> dict[str, Any]:
    """The JSON stored with the lead and shown to its buyers: every field, absent ones null."""
    return {
        "text": consent.text,
        "version": consent.version,
        "captured_at": consent.captured_at.isoformat(),
        "ip": consent.ip,
        "user_agent": consent.user_agent,
        "page_url": consent.page_url,
        "certificate_url": consent.certificate_url,
    }


def _optional(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit or "\x00" in value:
        raise InvalidInput(f"{what} must be at most {limit} characters")
    return value or None


def _url(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_URL or not URL.match(value):
        raise InvalidInput(f"{what} must be an http(s) URL of at most {MAX_URL} characters")
    return value
