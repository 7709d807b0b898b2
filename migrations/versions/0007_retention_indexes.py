"""Retention: indexes for the relay's sweeper, which looks for what ended longest ago.

Expired jobs are found by their end time among jobs that are no pipeline's step (steps expire with
their pipeline), expired pipelines by theirs; without these, every sweep would read both tables whole.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_jobs_standalone_finished', 'jobs', ['finished_at'], unique=False,
                    postgresql_where=sa.text('pipeline_id IS NULL'))
    op.create_index('ix_pipelines_finished', 'pipelines', ['finished_at'], unique=False)


def downgrade():
    op.drop_index('ix_pipelines_finished', table_name='pipelines')
    op.drop_index('ix_jobs_standalone_finished', table_name='jobs')
