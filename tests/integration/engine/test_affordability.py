"""The one affordability rule says the same in Python and in SQL (``leadflow_affords``)."""

from __future__ import annotations

import psycopg
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadflow.domain.money import affords

CENTS = st.integers(min_value=0, max_value=10**12)


def test_the_sql_rule_is_the_python_rule(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:

        @settings(max_examples=200, deadline=None)
        @given(balance=CENTS, price=CENTS)
        @example(balance=0, price=0)
        @example(balance=0, price=1)
        @example(balance=999, price=1000)
        @example(balance=1000, price=1000)
        @example(balance=1001, price=1000)
        def agree(balance: int, price: int) -> None:
            row = conn.execute("SELECT leadflow_affords(%s, %s)", (balance, price)).fetchone()
            assert row is not None
            assert row[0] is affords(balance, price)

        agree()
