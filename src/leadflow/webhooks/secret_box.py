"""Endpoint signing secrets: generated, shown once, kept encrypted at rest (Fernet)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretKeyError(ValueError):
    """``LEADFLOW_SECRET_KEY`` is missing or not a Fernet key."""


def new_signing_secret() -> str:
    """A fresh endpoint secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def generate_key() -> str:
    """A new ``LEADFLOW_SECRET_KEY``."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts secrets with the first key and decrypts with any: a new key goes first and the
    old one stays after it until every secret has been rotated."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyError("LEADFLOW_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError) as exc:
            raise SecretKeyError(
                "LEADFLOW_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), "
                "comma-separated; `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` makes one"
            ) from exc

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls([key.strip() for key in value.split(",") if key.strip()])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError(
                "an endpoint secret does not open with LEADFLOW_SECRET_KEY"
            ) from exc
