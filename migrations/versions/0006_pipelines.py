"""Pipelines: a DAG of job steps; jobs learn which pipeline step (and run of it) they are.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pipelines',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('preset', sa.String(length=32), nullable=True),
        sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('priority', sa.String(length=8), nullable=False),
        sa.Column('callback_url', sa.String(length=2048), nullable=True),
        sa.Column('run', sa.Integer(), nullable=False),
        sa.Column('input_key', sa.String(length=255), nullable=True),
        sa.Column('input_filename', sa.String(length=255), nullable=True),
        sa.Column('input_content_type', sa.String(length=127), nullable=True),
        sa.Column('input_size', sa.BigInteger(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pipelines_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines')),
    )
    op.create_index('ix_pipelines_user_created', 'pipelines', ['user_id', 'created_at'], unique=False)
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.add_column(sa.Column('pipeline_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('pipeline_step', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pipeline_run', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_jobs_pipeline_id_pipelines'), 'pipelines', ['pipeline_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index(op.f('ix_jobs_pipeline_id'), ['pipeline_id'], unique=False)
        batch_op.create_unique_constraint('uq_jobs_pipeline_step_run',
                                          ['pipeline_id', 'pipeline_step', 'pipeline_run'])


def downgrade():
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_constraint('uq_jobs_pipeline_step_run', type_='unique')
        batch_op.drop_index(op.f('ix_jobs_pipeline_id'))
        batch_op.drop_constraint(op.f('fk_jobs_pipeline_id_pipelines'), type_='foreignkey')
        batch_op.drop_column('pipeline_run')
        batch_op.drop_column('pipeline_step')
        batch_op.drop_column('pipeline_id')
    op.drop_index('ix_pipelines_user_created', table_name='pipelines')
    op.drop_table('pipelines')
