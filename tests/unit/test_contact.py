"""The duplicate keys (SPEC §11): phones in E.164 read in the niche's region, e-mails folded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.domain.consent import Consent, check_consent, consent_document
from leadflow.domain.contact import (
    InvalidPhone,
    check_days,
    check_region,
    normalize_email,
    normalize_phone,
    reads_without_region,
)
from leadflow.domain.errors import InvalidInput

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("+1 212 555 0100", "US", "+12125550100"),
        ("(212) 555-0100", "US", "+12125550100"),
        ("212.555.0100", "US", "+12125550100"),
        ("1 212 555 0100", "US", "+12125550100"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_phones_in_e164(typed: str, region: str, e164: str) -> None:
    assert normalize_phone(typed, region) == e164


@pytest.mark.parametrize(
    ("typed", "region"),
    [("call me", "US"), ("+1 555 555 0100", "US"), ("020 7946 0958", "US"), ("", "US")],
)
def test_numbers_no_one_answers_are_refused_naming_the_phone(typed: str, region: str) -> None:
    with pytest.raises(InvalidPhone, match="phone"):
        normalize_phone(typed, region)


# Valid US numbers: area 212, exchange 2xx..9xx.
us_numbers = st.integers(min_value=2_000_000, max_value=9_999_999).map(lambda n: f"212{n}")


@given(us_numbers, st.sampled_from(["{}", "+1{}", "1 {}", "({a}) {b}-{c}"]))
def test_every_spelling_of_a_number_is_one_key(digits: str, spelling: str) -> None:
    typed = spelling.format(digits, a=digits[:3], b=digits[3:6], c=digits[6:])
    assert normalize_phone(typed, "US") == f"+1{digits}"


@given(us_numbers, st.sampled_from(["US", "GB", "DE", "FR"]))
def test_a_number_with_its_country_code_reads_alike_everywhere(digits: str, region: str) -> None:
    typed = f"+1 {digits}"
    assert reads_without_region(typed)
    assert normalize_phone(typed, region) == f"+1{digits}"


@given(st.from_regex(r"[A-Za-z0-9._]{1,20}@[A-Za-z0-9]{1,10}\.[A-Za-z]{2,5}", fullmatch=True))
def test_emails_fold_case_and_blanks(address: str) -> None:
    key = normalize_email(f"  {address.upper()} ")
    assert key == address.lower() == normalize_email(address)


def test_bad_emails_are_refused_naming_the_email() -> None:
    for bad in ("", "jane", "jane@", "jane doe@example.com", "a@b"):
        with pytest.raises(InvalidInput, match="email"):
            normalize_email(bad)


def test_settings_bounds() -> None:
    assert check_days(0, "duplicate_window_days") == 0
    with pytest.raises(InvalidInput, match="dedupe_days"):
        check_days(-1, "dedupe_days")
    assert check_region("GB") == "GB"
    with pytest.raises(InvalidInput, match="default_region"):
        check_region("XX")


def _consent(**changes: object) -> Consent:
    fields: dict[str, object] = {"text": " I agree ", "captured_at": NOW, "ip": "192.0.2.1"}
    return Consent(**{**fields, **changes})  # type: ignore[arg-type]


def test_consent_is_stored_canonical() -> None:
    stored = check_consent(_consent(ip="2001:DB8:0:0::1", captured_at=NOW.astimezone(UTC)), now=NOW)
    assert (stored.text, stored.ip) == ("I agree", "2001:db8::1")
    assert consent_document(stored)["captured_at"] == "2026-12-03T12:00:00+00:00"


@given(st.timedeltas(min_value=timedelta(seconds=-86400), max_value=timedelta(minutes=10)))
def test_consent_from_the_future_is_refused_beyond_five_minutes(ahead: timedelta) -> None:
    consent = _consent(captured_at=NOW + ahead)
    if ahead > timedelta(minutes=5):
        with pytest.raises(InvalidInput, match="captured_at"):
            check_consent(consent, now=NOW)
    else:
        assert check_consent(consent, now=NOW).captured_at == NOW + ahead


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "  "}, "text"),
        ({"ip": "1.2.3"}, "ip"),
        ({"captured_at": datetime(2026, 12, 1)}, "captured_at"),
        ({"page_url": "ftp://x"}, "page_url"),
        ({"certificate_url": "https://" + "x" * 2048}, "certificate_url"),
        ({"version": "v" * 101}, "version"),
    ],
)
def test_bad_consent_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        check_consent(_consent(**changes), now=NOW)
