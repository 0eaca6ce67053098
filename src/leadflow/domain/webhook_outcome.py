"""What a webhook attempt's reply means (SPEC §10): pure, no I/O.

2xx is delivered, unless its JSON body says ``{"accepted": false, ...}``: the buyer said no (as
a 409 does). Timeouts, network errors, 408, 429 and 5xx are tried again on the job schedule
(SPEC §4), then the delivery is ``failed``; any other status (3xx: redirects are not followed;
4xx) fails at once, as does a URL refused at send time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from leadflow.domain.retry_schedule import job_retry_delay

# How much of the buyer's reply becomes the note of the return it files.
NOTE_CHARS = 200


class Verdict(StrEnum):
    DELIVERED = "delivered"
    BUYER_SAID_NO = "buyer_said_no"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    retry_in: int | None = None  # for RETRY: seconds until the next attempt
    buyer_reason: str | None = None  # for BUYER_SAID_NO: the reason it gave, if any
    note: str | None = None  # for BUYER_SAID_NO: the start of its reply


def judge(
    status_code: int | None,
    body: bytes,
    *,
    refused: bool,
    round_attempts: int,
    delays: Sequence[int],
) -> Judgement:
    """The outcome of an attempt that got ``status_code`` (None: no reply) and ``body``, the
    ``round_attempts``-th of its round (>= 1)."""
    if status_code is None:
        return Judgement(Verdict.FAILED) if refused else _retry(round_attempts, delays)
    if 200 <= status_code < 300:
        refusal = _refusal(body)
        if refusal is None:
            return Judgement(Verdict.DELIVERED)
        return Judgement(Verdict.BUYER_SAID_NO, buyer_reason=refusal, note=_note(body))
    if status_code == 409:
        return Judgement(Verdict.BUYER_SAID_NO, buyer_reason=_reason(body), note=_note(body))
    if status_code in (408, 429) or status_code >= 500:
        return _retry(round_attempts, delays)
    return Judgement(Verdict.FAILED)


def _retry(round_attempts: int, delays: Sequence[int]) -> Judgement:
    delay = job_retry_delay(delays, round_attempts - 1)
    return Judgement(Verdict.FAILED) if delay is None else Judgement(Verdict.RETRY, retry_in=delay)


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _refusal(body: bytes) -> str | None:
    """The reason of a ``{"accepted": false}`` reply ('' when it gives none); None otherwise."""
    if not body.lstrip().startswith(b"{"):
        return None
    reply = _json(body)
    if isinstance(reply, dict) and reply.get("accepted") is False:
        return _text_reason(reply.get("reason")) or ""
    return None


def _reason(body: bytes) -> str:
    reply = _json(body)
    return (_text_reason(reply.get("reason")) if isinstance(reply, dict) else None) or ""


def _text_reason(value: object) -> str | None:
    return value.strip()[:100] if isinstance(value, str) and value.strip() else None


def _note(body: bytes) -> str | None:
    text = body[: NOTE_CHARS * 4].decode("utf-8", errors="replace")[:NOTE_CHARS].strip()
    return text or None


def return_reason(buyer_reason: str | None, niche_reasons: Sequence[str]) -> str:
    """The niche's return reason for what the buyer said: the same name, else ``other``."""
    if buyer_reason and buyer_reason in niche_reasons:
        return buyer_reason
    return "other"
