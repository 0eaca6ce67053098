"""Find a lead's distribution jobs without scanning the job queue.

Revision ID: 0004_job_lookup
Revises: 0003_auth_limits
Create Date: 2026-11-29 02:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004_job_lookup"
down_revision = "0003_auth_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On Procrastinate's table (so not in the declared schema): "the queued or running job of
    # this lead" and "the latest job of this lead" are asked under the lead's row lock.
    op.execute(
        "CREATE INDEX procrastinate_jobs_lead_id_idx ON procrastinate_jobs "
        "((args->>'lead_id'), id) WHERE task_name = 'distribute_lead'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX procrastinate_jobs_lead_id_idx")
