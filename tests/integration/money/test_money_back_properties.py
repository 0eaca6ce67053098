"""Money invariants under sales, returns, decisions, adjustments and deposits in any order,
some of them at the same instant (hypothesis state machine on PostgreSQL, SPEC §2, §14).

After every step: each provider's balance is the sum of its ledger and what the model expects
from the operations that succeeded, refunds never exceed charges per assignment, a returned
assignment has exactly one charge and one refund of the same amount, an active one none (the
checks of ``tests.support.invariants``), and of two decisions on one return exactly one won.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.errors import DomainError
from leadflow.domain.model import Actor, ActorRole
from leadflow.services import billing, catalog_admin, returns
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import ADMIN, market
from tests.support.invariants import violations
from tests.support.work import committed

Pool = ConnectionPool[Connection]
PRICE = {1: 700, 2: 300}
_names = itertools.count()


def attempt(call: Callable[[], Any]) -> Any | None:
    """The call's result, or None when a use case refused it (a domain error)."""
    try:
        return call()
    except DomainError:
        return None


def test_money_invariants_hold_for_any_sequence_of_money_operations(pool: Pool) -> None:
    class MoneyBack(RuleBasedStateMachine):
        """Sales and open returns are kept here, not in bundles, and rules pick them by a drawn
        index: what concurrent steps produce varies from run to run, and what hypothesis
        draws must not depend on it."""

        def __init__(self) -> None:
            super().__init__()
            # Two levels (Gold 1 @ 7.00, Silver 2 @ 3.00).
            self.m = market(
                pool, [("Gold", 1, PRICE[1]), ("Silver", 2, PRICE[2])], mode="all_levels"
            )
            self.providers = [
                self.m.add_provider(f"p{next(_names)}", balance_cents=1000, levels=levels)
                for levels in ([1, 2], [1], [2], [1, 2])
            ]
            self.expected = dict.fromkeys(self.providers, 1000)
            self.lock = threading.Lock()
            self.sales: list[tuple[UUID, UUID, int]] = []
            self.open: list[UUID] = []

        def credit(self, provider_id: UUID, cents: int) -> None:
            with self.lock:
                self.expected[provider_id] += cents

        # --- operations, each returning what the model must learn ---

        def sell(self) -> list[tuple[UUID, UUID, int]]:
            result = distribute_lead(pool, lead_id=self.m.lead(), triggered_by=Actor.system())
            sold = [
                (a.assignment_id, a.provider_id, a.price_charged_cents) for a in result.assignments
            ]
            for _, provider_id, price in sold:
                self.credit(provider_id, -price)
            with self.lock:
                self.sales.extend(sold)
            return sold

        def request(self, sale: tuple[UUID, UUID, int]) -> UUID | None:
            assignment_id, provider_id, price = sale
            record = attempt(
                lambda: committed(
                    pool,
                    returns.request_return,
                    actor=Actor(ActorRole.PROVIDER, str(provider_id)),
                    provider_id=provider_id,
                    assignment_id=assignment_id,
                    reason="bad_contact",
                )
            )
            if record is None:
                return None
            if record.status == "approved":
                self.credit(provider_id, price)
                return None
            with self.lock:
                self.open.append(record.id)
            return record.id

        def approve(self, return_id: UUID) -> bool:
            decision = attempt(
                lambda: committed(pool, returns.approve_return, actor=ADMIN, return_id=return_id)
            )
            if decision is not None:
                self.credit(decision.record.provider_id, decision.refund_cents)
            return decision is not None

        def deny(self, return_id: UUID) -> bool:
            decided = attempt(
                lambda: committed(
                    pool, returns.deny_return, actor=ADMIN, return_id=return_id, reason="no"
                )
            )
            return decided is not None

        def adjust(self, provider_id: UUID, cents: int) -> None:
            done = attempt(
                lambda: committed(
                    pool,
                    billing.adjust,
                    actor=ADMIN,
                    provider_id=provider_id,
                    amount_cents=cents,
                    reason="correction",
                )
            )
            if done is not None:
                self.credit(provider_id, cents)

        def deposit(self, provider_id: UUID, cents: int) -> None:
            committed(
                pool, billing.deposit, actor=ADMIN, provider_id=provider_id, amount_cents=cents
            )
            self.credit(provider_id, cents)

        # --- rules ---

        @initialize(rate=st.sampled_from([None, None, None, 0.5]), resell=st.booleans())
        def return_settings(self, rate: float | None, resell: bool) -> None:
            committed(
                pool,
                catalog_admin.update_niche,
                actor=ADMIN,
                niche_id=self.m.niche.id,
                changes={"auto_approve_returns_under_rate": rate, "resell_returned": resell},
            )

        def pick_sale(self, index: int) -> tuple[UUID, UUID, int] | None:
            return self.sales[index % len(self.sales)] if self.sales else None

        def take_open(self, index: int) -> UUID | None:
            return self.open.pop(index % len(self.open)) if self.open else None

        @rule()
        def resales(self) -> None:
            """Distribute the leads an approved return put back for resale (the job's work)."""
            put_back = queries.rows(
                pool,
                "SELECT id FROM leads WHERE niche_id = %s AND status = 'approved'"
                " AND resold_at IS NOT NULL",
                self.m.niche.id,
            )
            for row in put_back:
                result = distribute_lead(pool, lead_id=row["id"], triggered_by=Actor.system())
                for a in result.assignments:
                    self.credit(a.provider_id, -a.price_charged_cents)
                    self.sales.append((a.assignment_id, a.provider_id, a.price_charged_cents))

        @rule()
        def sale(self) -> None:
            self.sell()

        @rule(index=st.integers(0, 10_000))
        def return_request(self, index: int) -> None:
            sale = self.pick_sale(index)
            if sale is not None:
                self.request(sale)

        @rule(index=st.integers(0, 10_000))
        def approval(self, index: int) -> None:
            return_id = self.take_open(index)
            if return_id is not None:
                assert self.approve(return_id)

        @rule(index=st.integers(0, 10_000))
        def denial(self, index: int) -> None:
            return_id = self.take_open(index)
            if return_id is not None:
                assert self.deny(return_id)

        @rule(index=st.integers(0, 10_000), both_approve=st.booleans())
        def two_decisions_at_once(self, index: int, both_approve: bool) -> None:
            return_id = self.take_open(index)
            if return_id is None:
                return
            barrier = threading.Barrier(2)

            def decide(approve: bool) -> bool:
                barrier.wait()
                return self.approve(return_id) if approve else self.deny(return_id)

            with ThreadPoolExecutor(2) as ex:
                won = list(ex.map(decide, [True, both_approve]))
            assert sorted(won) == [False, True], "exactly one decision wins"

        @rule(
            index=st.integers(0, 10_000),
            who=st.integers(0, 3),
            cents=st.integers(-1500, 1500).filter(bool),
        )
        def refund_sale_and_adjustment_at_once(self, index: int, who: int, cents: int) -> None:
            """A return of one sale (auto-approved or left open), a new sale, an adjustment and
            a deposit, all at the same instant, sharing providers."""
            sale = self.pick_sale(index)
            if sale is None:
                return
            barrier = threading.Barrier(4)
            provider_id = self.providers[who]

            def run(task: Callable[[], Any]) -> Any:
                barrier.wait()
                return task()

            with ThreadPoolExecutor(4) as ex:
                list(
                    ex.map(
                        run,
                        [
                            lambda: self.request(sale),
                            self.sell,
                            lambda: self.adjust(provider_id, cents),
                            lambda: self.deposit(sale[1], 200),
                        ],
                    )
                )

        @rule(who=st.integers(0, 3), cents=st.integers(-3000, 3000).filter(bool))
        def adjustment(self, who: int, cents: int) -> None:
            self.adjust(self.providers[who], cents)

        @rule(who=st.integers(0, 3), cents=st.integers(1, 2000))
        def deposit_money(self, who: int, cents: int) -> None:
            self.deposit(self.providers[who], cents)

        @invariant()
        def money_is_exact(self) -> None:
            with pool.connection() as conn:
                assert violations(conn) == {}
            actual = {p: queries.balance(pool, p) for p in self.providers}
            assert actual == self.expected

    run_state_machine_as_test(
        MoneyBack,
        settings=settings(
            max_examples=30,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
