"""The signature header and its reference verifier."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.webhooks import signature_header, verify

NOW = 1_800_000_000
secrets = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)


def test_header_has_one_v1_per_secret_over_timestamp_dot_body() -> None:
    body = b'{"event":"lead.assigned"}'
    header = signature_header(["new", "old"], body, NOW)
    expected = [
        hmac.new(key, f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
        for key in (b"new", b"old")
    ]
    assert header == f"t={NOW},v1={expected[0]},v1={expected[1]}"


def test_signing_needs_a_sequence_of_at_least_one_secret() -> None:
    with pytest.raises(ValueError):
        signature_header([], b"{}", NOW)
    with pytest.raises(TypeError):
        signature_header("secret", b"{}", NOW)


@given(secret=secrets, body=bodies)
def test_round_trip(secret: str, body: bytes) -> None:
    assert verify(secret, signature_header([secret], body, NOW), body, now=NOW)


@given(secret=secrets, body=bodies.filter(bool), data=st.data())
def test_any_flipped_body_byte_fails(secret: str, body: bytes, data: st.DataObject) -> None:
    header = signature_header([secret], body, NOW)
    index = data.draw(st.integers(0, len(body) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(body)
    tampered[index] ^= 1 << bit
    assert not verify(secret, header, bytes(tampered), now=NOW)


@given(secret=secrets, other=secrets, body=bodies)
def test_wrong_secret_fails(secret: str, other: str, body: bytes) -> None:
    header = signature_header([secret], body, NOW)
    assert verify(other, header, body, now=NOW) == (other == secret)


@given(new=secrets, old=secrets, body=bodies)
def test_both_secrets_of_a_rotation_verify(new: str, old: str, body: bytes) -> None:
    header = signature_header([new, old], body, NOW)
    assert verify(new, header, body, now=NOW)
    assert verify(old, header, body, now=NOW)


@given(skew=st.integers(301, 10**9), sign=st.sampled_from([-1, 1]))
def test_timestamp_outside_the_tolerance_fails(skew: int, sign: int) -> None:
    header = signature_header(["s"], b"{}", NOW + sign * skew)
    assert not verify("s", header, b"{}", now=NOW)


def test_timestamp_inside_the_tolerance_verifies() -> None:
    for skew in (-300, -1, 0, 299, 300):
        assert verify("s", signature_header(["s"], b"{}", NOW + skew), b"{}", now=NOW)
    assert not verify("s", signature_header(["s"], b"{}", NOW - 61), b"{}", 60, now=NOW)


def test_default_now_is_the_clock() -> None:
    import time

    assert verify("s", signature_header(["s"], b"x", int(time.time())), b"x")
    assert not verify("s", signature_header(["s"], b"x", NOW - 10**6), b"x")


def test_parsing_is_tolerant_of_spaces_unknown_schemes_and_case() -> None:
    body = b"{}"
    good = signature_header(["s"], body, NOW).split(",v1=")[1]
    for header in (
        f" t={NOW} , v1={good} ",
        f"v0=deadbeef,t={NOW},v1={good}",
        f"t={NOW},v1={'0' * 64},v1={good},v2=whatever",
        f"t={NOW},v1={good.upper()},",
        f"t={NOW},v1=not-hex,v1={good}",
    ):
        assert verify("s", header, body, now=NOW), header


@pytest.mark.parametrize(
    "header",
    [
        "",
        ",,,",
        "garbage",
        f"t={NOW}",
        "v1=" + "0" * 64,
        f"t=abc,v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW},=x",
        f"t={'9' * 5000},v1={'0' * 64}",
        f"t=١٢٣,v1={'0' * 64}",
        f"t={NOW},v1=é" + "0" * 63,
        "t=\x00,v1=\udcff",
    ],
)
def test_malformed_headers_are_false(header: str) -> None:
    assert verify("s", header, b"{}", now=NOW) is False


@given(secret=st.text(), header=st.text(), body=bodies)
def test_garbage_never_raises(secret: str, header: str, body: bytes) -> None:
    assert verify(secret, header, body, now=NOW) in (True, False)


def test_wrong_types_and_an_empty_secret_are_false() -> None:
    header = signature_header(["s"], b"{}", NOW)
    assert verify("", signature_header([""], b"{}", NOW), b"{}", now=NOW) is False
    assert verify("s", header.encode(), b"{}", now=NOW) is False  # type: ignore[arg-type]
    assert verify("s", header, "{}", now=NOW) is False  # type: ignore[arg-type]
    assert verify(None, header, b"{}", now=NOW) is False  # type: ignore[arg-type]
    assert verify("s", header, bytearray(b"{}"), now=NOW) is True  # type: ignore[arg-type]
