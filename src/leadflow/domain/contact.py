"""A consumer's contact as duplicate keys (SPEC §11): the phone in E.164, the e-mail
lower-cased and trimmed. Pure: ``phonenumbers`` carries its metadata, no I/O."""

from __future__ import annotations

import re

import phonenumbers

from leadflow.domain.errors import InvalidInput

MAX_EMAIL = 254
MAX_PHONE = 40
# ``local@domain.tld`` without blanks: the intake's rule since Part I.
_EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
# The regions whose numbering plans ``phonenumbers`` knows.
REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
DEFAULT_REGION = "US"
DEFAULT_DUPLICATE_WINDOW_DAYS = 30
DEFAULT_DEDUPE_DAYS = 30
DEFAULT_LEAD_TTL_HOURS = 72
MAX_WINDOW_DAYS = 3650
MAX_LEAD_TTL_HOURS = 24 * 3650


class InvalidPhone(InvalidInput):
    """A phone that is not a valid number in the region it was read in."""


def check_days(value: int, what: str) -> int:
    """A window in days: 0 (off) .. ``MAX_WINDOW_DAYS``."""
    if isinstance(value, bool) or not 0 <= value <= MAX_WINDOW_DAYS:
        raise InvalidInput(f"{what} must be 0..{MAX_WINDOW_DAYS} (0 turns it off)")
    return value


def check_ttl_hours(value: int) -> int:
    if isinstance(value, bool) or not 1 <= value <= MAX_LEAD_TTL_HOURS:
        raise InvalidInput(f"lead_ttl_hours must be 1..{MAX_LEAD_TTL_HOURS}")
    return value


def check_region(region: str) -> str:
    """A region code ``phonenumbers`` knows (``US``, ``GB``, ...); else ``InvalidInput``."""
    if region not in REGIONS:
        raise InvalidInput("default_region must be a two-letter region code such as US or GB")
    return region


def normalize_phone(phone: str, region: str) -> str:
    """The number in E.164 (``+12125550100``); a number without ``+`` is read as dialled in
    ``region``. A text that is not a valid number there raises ``InvalidInput`` naming
    ``phone``: a number no one can be reached at is worth nothing to a buyer."""
    text = phone.strip()
    if not text or len(text) > MAX_PHONE:
        raise InvalidPhone(f"phone must be 1..{MAX_PHONE} characters")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("phone is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"phone is not a valid phone number (read in region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def reads_without_region(phone: str) -> bool:
    """Whether ``phone`` carries its country code (``+``), so that every region reads it alike."""
    return phone.strip().startswith("+")


def normalize_email(email: str) -> str:
    """The address lower-cased and trimmed; ``InvalidInput`` naming ``email`` if it is not one."""
    text = email.strip().lower()
    if len(text) > MAX_EMAIL or not _EMAIL.match(text):
        raise InvalidInput("email must be an e-mail address")
    return text
