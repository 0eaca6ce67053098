"""The one place where database constraint violations become domain errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import psycopg
from psycopg import errors as pg

from leadflow.domain.errors import DomainError, DuplicateEntity, InvalidInput, NotFound

# Constraint name -> the domain error it means. Anything unlisted is a bug and stays a 500.
UNIQUE_MEANINGS: Mapping[str, str] = {
    "uq_niches_slug": "a niche with this slug already exists",
    "uq_competition_levels_niche_id_order_position": "this niche already has a level at this order position",
    "uq_subscriptions_provider_id_competition_level_id": "this provider is already subscribed to this level",
    "uq_users_email_lower": "a user with this email already exists",
    "uq_lead_returns_assignment_id": "a return was already requested for this assignment",
}
FOREIGN_KEY_ENTITIES: Mapping[str, str] = {
    "fk_competition_levels_niche_id_niches": "niche",
    "fk_subscriptions_provider_id_providers": "provider",
    "fk_subscriptions_competition_level_id_competition_levels": "competition level",
    "fk_leads_niche_id_niches": "niche",
    "fk_users_provider_id_providers": "provider",
}


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn known constraint violations raised inside the block into domain errors."""
    try:
        yield
    except pg.UniqueViolation as exc:
        raise _translate(exc, UNIQUE_MEANINGS, DuplicateEntity) from exc
    except pg.ForeignKeyViolation as exc:
        name = exc.diag.constraint_name or ""
        if name in FOREIGN_KEY_ENTITIES:
            raise NotFound(FOREIGN_KEY_ENTITIES[name], "referenced") from exc
        raise
    except pg.CheckViolation as exc:
        raise InvalidInput(f"value violates rule {exc.diag.constraint_name}") from exc


def _translate(
    exc: psycopg.Error, meanings: Mapping[str, str], kind: type[DomainError]
) -> BaseException:
    name = exc.diag.constraint_name or ""
    if name in meanings:
        return kind(meanings[name])
    return exc
