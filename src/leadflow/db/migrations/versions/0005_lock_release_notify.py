"""Wake workers when a job's lock is released, so a niche's backlog drains without polling.

Procrastinate notifies workers only of inserted jobs. A job held back by a running job with the
same lock (``niche:<id>``) would then wait for the next poll once the running one ends; this
trigger sends the same notification when a job with a lock leaves ``doing``.

Revision ID: 0005_lock_release_notify
Revises: 0004_job_lookup
Create Date: 2026-11-29 03:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005_lock_release_notify"
down_revision = "0004_job_lookup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION leadflow_notify_lock_released() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            payload text := json_build_object('type', 'job_inserted', 'job_id', NEW.id)::text;
        BEGIN
            PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
            PERFORM pg_notify('procrastinate_any_queue_v1', payload);
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER leadflow_notify_lock_released
        AFTER UPDATE OF status ON procrastinate_jobs
        FOR EACH ROW WHEN (OLD.status = 'doing' AND NEW.status <> 'doing' AND OLD.lock IS NOT NULL)
        EXECUTE FUNCTION leadflow_notify_lock_released()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER leadflow_notify_lock_released ON procrastinate_jobs")
    op.execute("DROP FUNCTION leadflow_notify_lock_released()")
