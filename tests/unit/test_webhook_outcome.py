"""What a webhook reply means (SPEC §10): ``domain.webhook_outcome.judge``, exhaustively."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.domain.webhook_outcome import NOTE_CHARS, Judgement, Verdict, judge, return_reason

DELAYS = (5, 15, 45, 120, 300)


def verdict(
    status: int | None, body: bytes = b"", *, attempt: int = 1, refused: bool = False
) -> Judgement:
    return judge(status, body, refused=refused, round_attempts=attempt, delays=DELAYS)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert verdict(status, b'{"ok": true}').verdict == Verdict.DELIVERED


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"accepted": true}', b'{"accepted": "false"}', b"\xff\xfe"],
)
def test_2xx_without_an_explicit_refusal_is_delivered(body: bytes) -> None:
    assert verdict(200, body).verdict == Verdict.DELIVERED


def test_accepted_false_is_the_buyer_saying_no() -> None:
    body = b'{"accepted": false, "reason": "duplicate"}'
    said = verdict(200, body)
    assert said.verdict == Verdict.BUYER_SAID_NO
    assert said.buyer_reason == "duplicate"
    assert said.note == body.decode()


def test_409_is_the_buyer_saying_no_with_whatever_reason_it_gives() -> None:
    assert verdict(409, b'{"reason": "out_of_area"}').buyer_reason == "out_of_area"
    plain = verdict(409, b"conflict")
    assert (plain.verdict, plain.buyer_reason, plain.note) == (
        Verdict.BUYER_SAID_NO,
        "",
        "conflict",
    )


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 599])
def test_transient_failures_follow_the_job_schedule(status: int | None) -> None:
    for attempt, delay in enumerate(DELAYS, start=1):
        judged = verdict(status, attempt=attempt)
        assert (judged.verdict, judged.retry_in) == (Verdict.RETRY, delay)
    assert verdict(status, attempt=len(DELAYS) + 1).verdict == Verdict.FAILED


@pytest.mark.parametrize("status", [301, 302, 307, 400, 401, 403, 404, 410, 413, 422])
def test_redirects_and_other_client_errors_fail_at_once(status: int) -> None:
    assert verdict(status).verdict == Verdict.FAILED


def test_a_refused_address_fails_at_once() -> None:
    assert verdict(None, refused=True).verdict == Verdict.FAILED


@given(st.text(max_size=2000))
def test_the_note_is_at_most_200_characters_of_the_reply(reason: str) -> None:
    body = json.dumps({"accepted": False, "reason": reason}).encode()
    said = verdict(200, body)
    assert said.verdict == Verdict.BUYER_SAID_NO
    assert said.note is None or len(said.note) <= NOTE_CHARS
    assert said.buyer_reason is not None and len(said.buyer_reason) <= 100


def test_unknown_reasons_become_other() -> None:
    reasons = ["bad_contact", "duplicate", "other"]
    assert return_reason("duplicate", reasons) == "duplicate"
    assert return_reason("spam", reasons) == "other"
    assert return_reason(None, reasons) == "other"
    assert return_reason("", reasons) == "other"
