"""The ``Leadflow-Signature`` header: HMAC-SHA256 over ``"{t}.{body}"``, and its verifier."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

DEFAULT_TOLERANCE_S = 300

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + bytes(body)
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex>[,v1=<hex>...]``: one ``v1`` per secret, in the order given."""
    # A bare string is a Sequence[str] too; signing with each of its characters is never meant.
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not one string")
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    signatures = [f"v1={_digest(secret, body, timestamp)}" for secret in secrets]
    return ",".join([f"t={timestamp}", *signatures])


def _parse(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and the ``v1`` signatures of a header, or None when it is malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            return None
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                return None
            timestamp = int(value)
        elif key == "v1" and _HEX_DIGEST.fullmatch(value):
            signatures.append(value.lower())
        # Other schemes (v0=, a future v2=) and non-hex v1 values are ignored, as Stripe does.
    if timestamp is None:
        return None
    return timestamp, signatures


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` carries a fresh ``v1`` signature of ``body`` made with ``secret``."""
    try:
        if not isinstance(secret, str) or not secret or not isinstance(header, str):
            return False
        if not isinstance(body, bytes | bytearray | memoryview):
            return False
        parsed = _parse(header)
        if parsed is None:
            return False
        timestamp, signatures = parsed
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance_s:
            return False
        expected = _digest(secret, bytes(body), timestamp)
        # Every candidate is compared, so the time taken does not tell which one matched.
        matched = False
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate)
        return matched
    except Exception:
        # The reference verifier answers "not valid" to anything it cannot make sense of.
        return False
