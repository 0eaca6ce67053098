"""A check that aborts the transaction when a distribution's plan no longer holds.

The engine sends its sale, mails, audit rows and COMMIT in one round trip, before it has seen
whether the sale's guard held. ``leadflow_expect(ok, what)`` raises (SQLSTATE ``LF001``, the
message is ``what``) unless ``ok`` is true, so a refused guard aborts the transaction and the
queued COMMIT turns into a rollback; the engine then redoes the distribution on its careful path.

Revision ID: 0007_plan_check
Revises: 0006_candidate_index
Create Date: 2026-12-01 22:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007_plan_check"
down_revision = "0006_candidate_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION leadflow_expect(ok boolean, what text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF ok IS NOT TRUE THEN
                RAISE EXCEPTION USING ERRCODE = 'LF001', MESSAGE = what;
            END IF;
            RETURN true;
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION leadflow_expect(boolean, text)")
