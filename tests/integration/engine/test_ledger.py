"""Balances move only through the ledger's posting function: anything else is refused."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from leadflow.db import ledger
from leadflow.db.connection import Connection, transaction
from leadflow.domain.facts import Posting
from leadflow.domain.model import LedgerKind
from tests.support import queries
from tests.support.factory import market

Pool = ConnectionPool[Connection]


def _provider(pool: Pool, balance: int) -> uuid.UUID:
    return market(pool, [("Gold", 1, 100)]).add_provider("acme", balance_cents=balance, levels=[1])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE providers SET balance_cents = balance_cents + 1 WHERE id = %(id)s",
        "INSERT INTO ledger_entries (provider_id, amount_cents, balance_after_cents, kind) "
        "VALUES (%(id)s, 1, 1, 'deposit')",
        "UPDATE ledger_entries SET amount_cents = amount_cents + 1 WHERE provider_id = %(id)s",
        "DELETE FROM ledger_entries WHERE provider_id = %(id)s",
        "INSERT INTO providers (name, email, balance_cents) VALUES ('x', 'x@example.com', 5)",
    ],
)
def test_a_balance_or_ledger_write_outside_the_posting_function_is_refused(
    pool: Pool, statement: str
) -> None:
    provider = _provider(pool, 5000)
    before = queries.state(pool)
    with pytest.raises(psycopg.Error) as refused, transaction(pool) as tx:
        tx.execute(statement, {"id": provider})
    assert refused.value.sqlstate == "LF002"
    assert queries.state(pool) == before


def test_postings_move_balances_with_their_entries(pool: Pool) -> None:
    provider = _provider(pool, 5000)
    with transaction(pool) as tx:
        [entry] = ledger.post(tx, [Posting(provider, -1200, LedgerKind.ADJUSTMENT, note="fix")])
        # A balance changed inside the function only: a write after it is refused again.
        with pytest.raises(psycopg.Error), tx.transaction():
            tx.execute("UPDATE providers SET balance_cents = 0 WHERE id = %s", (provider,))
    assert (entry.amount_cents, entry.balance_after_cents) == (-1200, 3800)
    assert queries.balance(pool, provider) == 3800


def test_an_overdraft_or_an_unknown_provider_posts_nothing(pool: Pool) -> None:
    provider = _provider(pool, 500)
    before = queries.state(pool)
    with pytest.raises(psycopg.errors.CheckViolation), transaction(pool) as tx:
        ledger.post(tx, [Posting(provider, -501, LedgerKind.ADJUSTMENT)])
    with pytest.raises(psycopg.errors.ForeignKeyViolation), transaction(pool) as tx:
        ledger.post(tx, [Posting(uuid.uuid4(), 100, LedgerKind.ADJUSTMENT)])
    assert queries.state(pool) == before
