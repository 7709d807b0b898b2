"""A job submit in one round trip, and NOTIFYs for what web processes wait on or cache.

``conveyor_submit_job`` does what a submit wrote in five ORM round trips: lock the user's row, count
the user's active jobs and the steps their running pipelines reserved against the limit (as
``shared.jobflow.lock_user_and_count_active_jobs`` does), check the input against the storage quota
(raising SQLSTATE CQ429 with the bytes used as its DETAIL), insert the job, its outbox row and its
Idempotency-Key.
It runs as one statement (in autocommit mode, its own transaction), so the limit check is exact:
each statement of a plpgsql function takes a fresh snapshot, so the count runs after the lock is
held and sees every job that a submit holding the lock before had committed.

Triggers NOTIFY at commit (shared/pg_notify.py listens): ``conveyor_job`` with a job's id when its
status or progress moves or a chunk arrives (event streams wake at once instead of polling), with a
pipeline's id on ``conveyor_pipeline`` when it or one of its steps changes, and ``conveyor_principal``
with a user's id when the user or one of its login sessions changes (the per-process principal cache
drops that user); the stored-bytes counter that migration 0007's triggers keep is not such a change.
PostgreSQL folds equal notifications of one transaction into one.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Migration 0009 replaces it and puts it back on downgrade.
SUBMIT_FUNCTION = """
        CREATE FUNCTION conveyor_submit_job(owner integer, active_limit integer, active_statuses text[],
                                            job jsonb, message jsonb, message_priority smallint,
                                            idempotency_key text, request_hash text, quota_bytes bigint)
        RETURNS SETOF jobs LANGUAGE plpgsql AS $$
        DECLARE
            created jobs;
            used bigint;
        BEGIN
            PERFORM 1 FROM users WHERE id = owner FOR UPDATE;
            IF (SELECT count(*) FROM jobs WHERE user_id = owner AND status = ANY (active_statuses))
               + (SELECT coalesce(sum(greatest(0, jsonb_array_length(p.steps) - (
                      SELECT count(DISTINCT s.pipeline_step) FROM jobs s
                      WHERE s.pipeline_id = p.id AND s.status = ANY (active_statuses || 'succeeded'::text)))), 0)
                  FROM pipelines p WHERE p.user_id = owner AND p.status = 'running') >= active_limit THEN
                RETURN;  -- no row: over the limit
            END IF;
            IF quota_bytes IS NOT NULL THEN
                SELECT stored_bytes INTO used FROM users WHERE id = owner;
                IF used + coalesce((job ->> 'input_size')::bigint, 0) > quota_bytes THEN
                    RAISE EXCEPTION 'storage quota exceeded' USING ERRCODE = 'CQ429', DETAIL = used::text;
                END IF;
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


def upgrade():
    op.execute(SUBMIT_FUNCTION)
    op.execute("""
        CREATE FUNCTION conveyor_job_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('conveyor_job', NEW.id::text);
            IF NEW.pipeline_id IS NOT NULL THEN
                PERFORM pg_notify('conveyor_pipeline', NEW.pipeline_id::text);
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER job_notify AFTER UPDATE ON jobs FOR EACH ROW
            WHEN (OLD.status IS DISTINCT FROM NEW.status
                  OR OLD.progress_current IS DISTINCT FROM NEW.progress_current
                  OR OLD.progress_total IS DISTINCT FROM NEW.progress_total)
            EXECUTE FUNCTION conveyor_job_notify();

        CREATE FUNCTION conveyor_chunk_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('conveyor_job', NEW.job_id::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER chunk_notify AFTER INSERT OR UPDATE ON job_chunks FOR EACH ROW
            EXECUTE FUNCTION conveyor_chunk_notify();

        CREATE FUNCTION conveyor_pipeline_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('conveyor_pipeline', NEW.id::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER pipeline_notify AFTER UPDATE ON pipelines FOR EACH ROW
            EXECUTE FUNCTION conveyor_pipeline_notify();

        CREATE FUNCTION conveyor_principal_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'users' THEN
                PERFORM pg_notify('conveyor_principal', OLD.id::text);
            ELSE
                PERFORM pg_notify('conveyor_principal', OLD.user_id::text);
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER user_principal_notify AFTER UPDATE ON users FOR EACH ROW
            WHEN (to_jsonb(OLD) - 'stored_bytes' IS DISTINCT FROM to_jsonb(NEW) - 'stored_bytes')
            EXECUTE FUNCTION conveyor_principal_notify();
        CREATE TRIGGER user_deleted_principal_notify AFTER DELETE ON users FOR EACH ROW
            EXECUTE FUNCTION conveyor_principal_notify();
        CREATE TRIGGER session_principal_notify AFTER UPDATE OR DELETE ON auth_sessions FOR EACH ROW
            EXECUTE FUNCTION conveyor_principal_notify();
    """)


def downgrade():
    op.execute("""
        DROP TRIGGER session_principal_notify ON auth_sessions;
        DROP TRIGGER user_deleted_principal_notify ON users;
        DROP TRIGGER user_principal_notify ON users;
        DROP FUNCTION conveyor_principal_notify();
        DROP TRIGGER pipeline_notify ON pipelines;
        DROP FUNCTION conveyor_pipeline_notify();
        DROP TRIGGER chunk_notify ON job_chunks;
        DROP FUNCTION conveyor_chunk_notify();
        DROP TRIGGER job_notify ON jobs;
        DROP FUNCTION conveyor_job_notify();
        DROP FUNCTION conveyor_submit_job(integer, integer, text[], jsonb, jsonb, smallint, text, text, bigint);
    """)
