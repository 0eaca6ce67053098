"""Domain errors: what a use case refuses, independent of HTTP or SQL."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    title = "Domain error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """An id that names nothing (HTTP 404)."""

    title = "Not found"

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id} not found")
        self.entity = entity
        self.entity_id = entity_id


def found(value: T | None, entity: str, entity_id: object) -> T:
    """``value``, or ``NotFound`` when the lookup that gave it found nothing."""
    if value is None:
        raise NotFound(entity, entity_id)
    return value


class InvalidInput(DomainError):
    """Input a service cannot accept (HTTP 422)."""

    title = "Invalid input"


class Conflict(DomainError):
    """The request collides with what is stored: duplicates, wrong state (HTTP 409)."""

    title = "Conflict"


class DuplicateEntity(Conflict):
    """A unique key is already taken (slug, order position, provider+level)."""

    title = "Already exists"


class InvalidState(Conflict):
    """The entity is not in a state that allows this operation."""

    title = "Invalid state"


class IdempotencyConflict(Conflict):
    """An idempotency key was reused with different content."""

    title = "Idempotency key reused"


class InsufficientBalance(Conflict):
    """A debit the provider's balance does not cover (HTTP 409); nothing is written."""

    title = "Insufficient balance"


class AlreadyDecided(Conflict):
    """A return that was already approved or denied (HTTP 409)."""

    title = "Already decided"


class LeadNotApproved(DomainError):
    """Distribution asked for a lead that is not approved (HTTP 400; a job treats it as final)."""

    title = "Lead not approved"


class LeadAlreadyDistributed(Conflict):
    """The lead already has its sales (HTTP 409)."""

    title = "Lead already distributed"


class JobAlreadyActive(Conflict):
    """Another job of the same lead is queued or running (HTTP 409)."""

    title = "Job already active"


class RateLimited(DomainError):
    """Too many requests from one client (HTTP 429, ``Retry-After`` in seconds)."""

    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_seconds: int = 60) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class AuthenticationFailed(DomainError):
    """Missing, wrong, expired or revoked credentials (HTTP 401)."""

    title = "Unauthorized"


class AccessDenied(DomainError):
    """Authenticated, but not allowed (HTTP 403)."""

    title = "Forbidden"


class NotConfigured(DomainError):
    """The operation needs configuration this installation lacks (HTTP 503)."""

    title = "Not configured"
