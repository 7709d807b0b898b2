"""The active-job limit reads a counter instead of counting the user's jobs.

``conveyor_submit_job`` (migration 0008) counted the user's active jobs at every submit through the
``(user_id, created_at)`` index, filtering on status: it read every job the user ever had, so a
submit cost grew with the user's history (3 ms for 6,300 jobs, under the user's row lock, which
serializes that user's submits). ``users.active_jobs`` is now kept by a trigger on ``jobs``, as
``stored_bytes`` is by migration 0007's, so no code path can forget it; the submit reads it from
the row it locks. ``SELECT ... FOR UPDATE`` returns the row's latest committed version once the lock
is granted, so the check stays exact under concurrency.

The active statuses are written out here as ``shared.states.ACTIVE`` has them
(tests/integration/test_active_jobs_counter.py checks every status against that set).
Running pipelines, which reserve their remaining steps, are found through a partial index.

Revision ID: 0009
Revises: 0008
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# shared.states.ACTIVE, written out (a trigger cannot ask Python).
ACTIVE = "'queued', 'running', 'retrying'"

COUNTER = f"""
CREATE FUNCTION conveyor_jobs_active_count() RETURNS trigger AS $$
DECLARE
    was_active integer := 0;
    is_active integer := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ({ACTIVE}) THEN
        was_active := 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ({ACTIVE}) THEN
        is_active := 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.user_id = NEW.user_id AND was_active = is_active THEN
        RETURN NULL;
    END IF;
    IF was_active = 1 THEN
        UPDATE users SET active_jobs = active_jobs - 1 WHERE id = OLD.user_id;
    END IF;
    IF is_active = 1 THEN
        UPDATE users SET active_jobs = active_jobs + 1 WHERE id = NEW.user_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_active_count AFTER INSERT OR UPDATE OF status, user_id OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION conveyor_jobs_active_count();
"""

BACKFILL = f"""
UPDATE users SET active_jobs = (SELECT count(*) FROM jobs WHERE jobs.user_id = users.id
                                AND jobs.status IN ({ACTIVE}))
"""


def principal_trigger(counters: str) -> str:
    """The principal cache's trigger on users, blind to the counters' columns (no login changes)."""
    ignored = " ".join(f"- '{column}'" for column in counters.split())
    return f"""
        DROP TRIGGER user_principal_notify ON users;
        CREATE TRIGGER user_principal_notify AFTER UPDATE ON users FOR EACH ROW
            WHEN (to_jsonb(OLD) {ignored} IS DISTINCT FROM to_jsonb(NEW) {ignored})
            EXECUTE FUNCTION conveyor_principal_notify();
    """


SUBMIT_FUNCTION = f"""
CREATE FUNCTION conveyor_submit_job(owner integer, active_limit integer, job jsonb, message jsonb,
                                    message_priority smallint, idempotency_key text, request_hash text,
                                    quota_bytes bigint)
RETURNS SETOF jobs LANGUAGE plpgsql AS $$
DECLARE
    created jobs;
    active integer;
    used bigint;
BEGIN
    SELECT active_jobs, stored_bytes INTO active, used FROM users WHERE id = owner FOR UPDATE;
    IF active + (SELECT coalesce(sum(greatest(0, jsonb_array_length(p.steps) - (
                     SELECT count(DISTINCT s.pipeline_step) FROM jobs s
                     WHERE s.pipeline_id = p.id
                       AND s.status IN ({ACTIVE}, 'succeeded')))), 0)
                 FROM pipelines p WHERE p.user_id = owner AND p.status = 'running') >= active_limit THEN
        RETURN;  -- no row: over the limit
    END IF;
    IF quota_bytes IS NOT NULL AND used + coalesce((job ->> 'input_size')::bigint, 0) > quota_bytes THEN
        RAISE EXCEPTION 'storage quota exceeded' USING ERRCODE = 'CQ429', DETAIL = used::text;
    END IF;
    INSERT INTO jobs (id, user_id, kind, status, priority, params, progress_current, attempts,
                      input_key, input_filename, input_content_type, input_size,
                      callback_url, callback_progress)
    SELECT j.id, owner, j.kind, j.status, j.priority, j.params, 0, 0,
           j.input_key, j.input_filename, j.input_content_type, j.input_size,
           j.callback_url, coalesce(j.callback_progress, false)
    FROM jsonb_populate_record(NULL::jobs, job) AS j
    RETURNING * INTO created;
    INSERT INTO outbox (job_id, kind, payload, priority, attempts)
    VALUES (created.id, created.kind, message, message_priority, 0);
    IF idempotency_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, request_hash, job_id)
        VALUES (owner, idempotency_key, request_hash, created.id);
    END IF;
    RETURN NEXT created;
END $$;
"""
OLD_SUBMIT_SIGNATURE = "conveyor_submit_job(integer, integer, text[], jsonb, jsonb, smallint, text, text, bigint)"
NEW_SUBMIT_SIGNATURE = "conveyor_submit_job(integer, integer, jsonb, jsonb, smallint, text, text, bigint)"


def _migration_0008():
    path = Path(__file__).with_name("0008_submit_function_and_change_notifications.py")
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade():
    op.add_column('users', sa.Column('active_jobs', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_pipelines_user_running', 'pipelines', ['user_id'], unique=False,
                    postgresql_where=sa.text("status = 'running'"))
    op.execute(principal_trigger("stored_bytes active_jobs"))
    op.execute(COUNTER)
    op.execute(BACKFILL)
    op.execute(f"DROP FUNCTION {OLD_SUBMIT_SIGNATURE}")
    op.execute(SUBMIT_FUNCTION)


def downgrade():
    op.execute(f"DROP FUNCTION {NEW_SUBMIT_SIGNATURE}")
    op.execute(_migration_0008().SUBMIT_FUNCTION)
    op.execute("DROP TRIGGER jobs_active_count ON jobs")
    op.execute("DROP FUNCTION conveyor_jobs_active_count()")
    op.execute(principal_trigger("stored_bytes"))
    op.drop_index('ix_pipelines_user_running', table_name='pipelines')
    op.drop_column('users', 'active_jobs')
