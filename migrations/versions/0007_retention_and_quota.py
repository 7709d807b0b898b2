"""Retention and the storage quota.

Indexes for the relay's sweeper, which looks for what ended longest ago: expired jobs by their end
time among jobs that are no pipeline's step (steps expire with their pipeline), expired pipelines
by theirs; without them every sweep would read both tables whole.

``users.stored_bytes``: what a user's files take (their own jobs' and pipelines' inputs, and every
artifact of their jobs), kept by triggers on the three tables so that the quota check at upload reads
one number instead of summing the user's rows, and no code path (a delete, a cascade, the sweeper, a
replaced artifact) can forget to update it. A pipeline step's job owns no input (it reads its
pipeline's upload or an earlier step's artifact), so it adds nothing. A job's artifacts are taken
off in the job's BEFORE DELETE trigger, while they still exist: once the foreign key's cascade
deletes them, their own trigger can no longer find the job, and does nothing.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TRIGGERS = """
CREATE FUNCTION conveyor_add_stored_bytes(owner integer, delta bigint) RETURNS void AS $$
BEGIN
    IF owner IS NOT NULL AND delta IS NOT NULL AND delta <> 0 THEN
        UPDATE users SET stored_bytes = stored_bytes + delta WHERE id = owner;
    END IF;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION conveyor_job_own_bytes(pipeline_id uuid, input_size bigint) RETURNS bigint AS $$
    SELECT CASE WHEN pipeline_id IS NULL THEN coalesce(input_size, 0) ELSE 0 END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION conveyor_jobs_stored_bytes() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM conveyor_add_stored_bytes(OLD.user_id, -conveyor_job_own_bytes(OLD.pipeline_id, OLD.input_size)
            - (SELECT coalesce(sum(size), 0) FROM artifacts WHERE job_id = OLD.id)::bigint);
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        PERFORM conveyor_add_stored_bytes(OLD.user_id, -conveyor_job_own_bytes(OLD.pipeline_id, OLD.input_size));
    END IF;
    PERFORM conveyor_add_stored_bytes(NEW.user_id, conveyor_job_own_bytes(NEW.pipeline_id, NEW.input_size));
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_stored_bytes_delete BEFORE DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION conveyor_jobs_stored_bytes();
CREATE TRIGGER jobs_stored_bytes AFTER INSERT OR UPDATE OF input_size, pipeline_id, user_id ON jobs
    FOR EACH ROW EXECUTE FUNCTION conveyor_jobs_stored_bytes();

CREATE FUNCTION conveyor_artifacts_stored_bytes() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM conveyor_add_stored_bytes((SELECT user_id FROM jobs WHERE id = OLD.job_id), -OLD.size);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM conveyor_add_stored_bytes((SELECT user_id FROM jobs WHERE id = NEW.job_id), NEW.size);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER artifacts_stored_bytes AFTER INSERT OR UPDATE OF size, job_id OR DELETE ON artifacts
    FOR EACH ROW EXECUTE FUNCTION conveyor_artifacts_stored_bytes();

CREATE FUNCTION conveyor_pipelines_stored_bytes() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM conveyor_add_stored_bytes(OLD.user_id, -coalesce(OLD.input_size, 0));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM conveyor_add_stored_bytes(NEW.user_id, coalesce(NEW.input_size, 0));
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER pipelines_stored_bytes AFTER INSERT OR UPDATE OF input_size, user_id OR DELETE ON pipelines
    FOR EACH ROW EXECUTE FUNCTION conveyor_pipelines_stored_bytes();
"""

BACKFILL = """
UPDATE users SET stored_bytes =
    (SELECT coalesce(sum(input_size), 0) FROM jobs WHERE jobs.user_id = users.id AND jobs.pipeline_id IS NULL)
  + (SELECT coalesce(sum(input_size), 0) FROM pipelines WHERE pipelines.user_id = users.id)
  + (SELECT coalesce(sum(artifacts.size), 0) FROM artifacts JOIN jobs ON jobs.id = artifacts.job_id
     WHERE jobs.user_id = users.id)
"""


def upgrade():
    op.create_index('ix_jobs_standalone_finished', 'jobs', ['finished_at'], unique=False,
                    postgresql_where=sa.text('pipeline_id IS NULL'))
    op.create_index('ix_pipelines_finished', 'pipelines', ['finished_at'], unique=False)
    op.add_column('users', sa.Column('stored_bytes', sa.BigInteger(), server_default='0', nullable=False))
    op.execute(TRIGGERS)
    op.execute(BACKFILL)


def downgrade():
    for table, name in (('pipelines', 'pipelines_stored_bytes'), ('artifacts', 'artifacts_stored_bytes'),
                        ('jobs', 'jobs_stored_bytes'), ('jobs', 'jobs_stored_bytes_delete')):
        op.execute(f'DROP TRIGGER {name} ON {table}')
    for function in ('conveyor_pipelines_stored_bytes()', 'conveyor_artifacts_stored_bytes()',
                     'conveyor_jobs_stored_bytes()', 'conveyor_job_own_bytes(uuid, bigint)',
                     'conveyor_add_stored_bytes(integer, bigint)'):
        op.execute(f'DROP FUNCTION {function}')
    op.drop_column('users', 'stored_bytes')
    op.drop_index('ix_pipelines_finished', table_name='pipelines')
    op.drop_index('ix_jobs_standalone_finished', table_name='jobs')
