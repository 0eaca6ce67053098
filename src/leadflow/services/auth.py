"""Authentication: argon2 passwords, admin TOTP MFA, opaque bearer tokens, login limits.

Limits (SPEC §8) live in PostgreSQL: every login attempt is first recorded as a failure under
an advisory lock on (account, address), so concurrent guesses are all counted, and the record
is removed only when the password turns out right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg_pool import ConnectionPool

from leadflow.db import audit
from leadflow.db import auth as db
from leadflow.db import limits as limits_db
from leadflow.db.connection import Connection, transaction
from leadflow.db.errors import translated
from leadflow.domain.errors import AccessDenied, AuthenticationFailed, InvalidInput, RateLimited
from leadflow.domain.model import Actor, ActorRole

LOGIN_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 20
MFA_TOKEN_TTL_SECONDS = 5 * 60
MFA_MAX_WRONG_CODES = 3
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1000
ISSUER = "leadflow"

BAD_CREDENTIALS = "invalid email or password"
TOO_MANY = "too many failed login attempts; try again later"
BAD_MFA = "invalid or expired MFA token or code"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^\d{6}$")


class Passwords:
    """argon2id hashing; ``verify_dummy`` spends the same time for unknown accounts."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def fast(cls) -> Passwords:
        """Cheap parameters for tests and throwaway demos only; production keeps the defaults."""
        return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return (
                self._hasher.verify(password_hash or self._dummy, password)
                and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    expires_at: datetime
    token_type: str = "bearer"


@dataclass(frozen=True, slots=True)
class LoginResult:
    mfa_required: bool
    mfa_token: str | None = None
    token: AccessToken | None = None


@dataclass(frozen=True, slots=True)
class AdminCreated:
    user_id: UUID
    email: str
    mfa_secret: str
    otpauth_uri: str


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256: they are long random strings, so no salt or stretching."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be {MIN_PASSWORD_LENGTH}..{MAX_PASSWORD_LENGTH} characters"
        )
    return password


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput("email must be an e-mail address")
    return email


def create_admin(
    tx: Connection, *, passwords: Passwords, email: str, password: str
) -> AdminCreated:
    """Create an admin with a fresh TOTP secret (admins always use MFA)."""
    email = check_email(email)
    password_hash = passwords.hash(check_password_rules(password))
    secret = pyotp.random_base32()
    with translated():
        user = db.insert_user(
            tx, email=email, password_hash=password_hash, role="admin", mfa_secret=secret
        )
        audit.record(tx, Actor.system(), "user.created", "user", user.id, {"role": "admin"})
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    return AdminCreated(user_id=user.id, email=email, mfa_secret=secret, otpauth_uri=uri)


def reset_admin(tx: Connection, *, passwords: Passwords, email: str, password: str) -> AdminCreated:
    """Give an existing admin a new password and TOTP secret (their tokens are revoked);
    creates the admin if there is none with this e-mail."""
    email = check_email(email)
    password_hash = passwords.hash(check_password_rules(password))
    secret = pyotp.random_base32()
    with translated():
        user_id = db.set_credentials(
            tx, email=email, password_hash=password_hash, mfa_secret=secret
        )
        if user_id is None:
            user_id = db.insert_user(
                tx, email=email, password_hash=password_hash, role="admin", mfa_secret=secret
            ).id
        else:
            db.revoke_user_sessions(tx, user_id)
        audit.record(
            tx, Actor.system(), "user.credentials_reset", "user", user_id, {"role": "admin"}
        )
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    return AdminCreated(user_id=user_id, email=email, mfa_secret=secret, otpauth_uri=uri)


def create_provider_user(
    conn: Connection, *, provider_id: UUID, email: str, password_hash: str
) -> db.UserRecord:
    """The login of a provider, inside the caller's transaction."""
    return db.insert_user(
        conn, email=email, password_hash=password_hash, role="provider", provider_id=provider_id
    )


def reset_provider_login(
    tx: Connection, *, passwords: Passwords, provider_id: UUID, email: str, password: str
) -> None:
    """Give a provider's login a new password (its sessions are revoked), creating the login
    if the provider has none."""
    password_hash = passwords.hash(check_password_rules(password))
    with translated():
        user_id = db.set_password(tx, email=email, password_hash=password_hash)
        if user_id is None:
            user_id = create_provider_user(
                tx, provider_id=provider_id, email=email, password_hash=password_hash
            ).id
        else:
            db.revoke_user_sessions(tx, user_id)
        audit.record(
            tx, Actor.system(), "user.credentials_reset", "user", user_id, {"role": "provider"}
        )


def login(
    pool: ConnectionPool[Connection],
    *,
    passwords: Passwords,
    token_ttl: int,
    email: str,
    password: str,
    client_address: str,
) -> LoginResult:
    """Check a password: admins get an MFA challenge, provider users their access token."""
    account = email.strip().lower()
    with transaction(pool) as conn:
        db.lock_login_key(conn, account, client_address)
        limited = _limited(conn, account, client_address)
        if not limited:
            failure_id = db.record_failure(conn, account=account, client_address=client_address)
            user = db.get_user_by_email(conn, account)
    if limited:
        raise RateLimited(TOO_MANY)
    # Outside any transaction: argon2 is slow on purpose and must not hold a connection.
    valid = passwords.verify(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    with transaction(pool) as conn:
        db.delete_failure(conn, failure_id)
        if user.role == ActorRole.ADMIN:
            mfa_token = secrets.token_urlsafe(32)
            db.insert_challenge(
                conn,
                user_id=user.id,
                token_hash=hash_token(mfa_token),
                ttl_seconds=MFA_TOKEN_TTL_SECONDS,
            )
            return LoginResult(mfa_required=True, mfa_token=mfa_token)
        assert user.provider_id is not None
        suspended = db.provider_status(conn, user.provider_id) != "active"
        if not suspended:
            db.clear_failures(conn, account=account, client_address=client_address)
            token = _issue(conn, user.id, token_ttl)
    if suspended:
        raise AccessDenied("this provider account is suspended")
    return LoginResult(mfa_required=False, token=token)


def verify_mfa(
    pool: ConnectionPool[Connection],
    *,
    token_ttl: int,
    mfa_token: str,
    code: str,
    client_address: str,
) -> AccessToken:
    """Trade a live MFA token and a fresh TOTP code for an access token.

    Wrong codes count as failed logins; the third kills the MFA token; a code is accepted once.
    """
    outcome: Literal["ok", "limited", "wrong"]
    with transaction(pool) as conn:
        challenge = db.get_challenge(conn, hash_token(mfa_token))
        if challenge is None or challenge.used_at is not None or challenge.expired:
            _, address_failures = db.count_failures(
                conn, account="", client_address=client_address, window_seconds=LOGIN_WINDOW_SECONDS
            )
            outcome = "limited" if address_failures >= MAX_FAILURES_PER_ADDRESS else "wrong"
            if outcome == "wrong":
                db.record_failure(conn, account="", client_address=client_address)
        else:
            user = db.get_user(conn, challenge.user_id, lock=True)
            assert user is not None
            account = user.email.lower()
            if _limited(conn, account, client_address):
                outcome = "limited"
            else:
                step = _accepted_step(user, code) if user.is_active else None
                if step is None:
                    outcome = "wrong"
                    db.fail_challenge(conn, challenge.id, max_failures=MFA_MAX_WRONG_CODES)
                    db.record_failure(conn, account=account, client_address=client_address)
                else:
                    outcome = "ok"
                    db.use_challenge(conn, challenge.id)
                    db.set_last_totp_step(conn, user.id, step)
                    db.clear_failures(conn, account=account, client_address=client_address)
                    token = _issue(conn, user.id, token_ttl)
    if outcome == "limited":
        raise RateLimited(TOO_MANY)
    if outcome == "wrong":
        raise AuthenticationFailed(BAD_MFA)
    return token


def authenticate(pool: ConnectionPool[Connection], *, token: str) -> db.SessionPrincipal:
    """The principal behind a bearer token, or ``AuthenticationFailed``."""
    with transaction(pool) as conn:
        principal = db.get_principal(conn, hash_token(token))
    if principal is None:
        raise AuthenticationFailed("invalid or expired access token")
    return principal


def authenticate_session(
    pool: ConnectionPool[Connection], *, token: str, idle_seconds: int, absolute_seconds: int
) -> db.SessionPrincipal:
    """The principal behind a console session's token, which each use keeps alive for another
    ``idle_seconds``, up to ``absolute_seconds`` after the login; else ``AuthenticationFailed``."""
    with transaction(pool) as conn:
        principal = db.slide_session(
            conn,
            hash_token(token),
            idle_seconds=idle_seconds,
            absolute_seconds=absolute_seconds,
        )
    if principal is None:
        raise AuthenticationFailed("the session has ended; log in again")
    return principal


def logout(tx: Connection, *, token: str) -> None:
    db.revoke_session(tx, hash_token(token))


def prune(tx: Connection) -> None:
    """Housekeeping (e.g. hourly): forget failed logins, rate-limit windows, MFA challenges and
    sessions long past any limit or expiry. Limits never need what this removes."""
    db.prune_failures(tx, older_than_seconds=LOGIN_WINDOW_SECONDS * 4)
    limits_db.prune(tx, older_than_seconds=2 * 86400)
    db.prune_expired(tx, older_than_seconds=86400)


def _limited(conn: Connection, account: str, client_address: str) -> bool:
    pair, address = db.count_failures(
        conn, account=account, client_address=client_address, window_seconds=LOGIN_WINDOW_SECONDS
    )
    return pair >= MAX_FAILURES_PER_ACCOUNT_ADDRESS or address >= MAX_FAILURES_PER_ADDRESS


def _accepted_step(user: db.UserRecord, code: str) -> int | None:
    """The TOTP time step ``code`` belongs to (±1 step for clock drift), if not used before."""
    if user.mfa_secret is None or not _CODE.match(code):
        return None
    totp = pyotp.TOTP(user.mfa_secret)
    now_step = totp.timecode(datetime.now().astimezone())
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.last_totp_step is not None and step <= user.last_totp_step:
                return None
            return step
    return None


def _issue(conn: Connection, user_id: UUID, ttl: int) -> AccessToken:
    token = secrets.token_urlsafe(32)
    expires_at = db.insert_session(
        conn, user_id=user_id, token_hash=hash_token(token), ttl_seconds=ttl
    )
    return AccessToken(access_token=token, expires_at=expires_at)
