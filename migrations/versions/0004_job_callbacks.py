"""A job's callback URL for webhooks.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.add_column(sa.Column('callback_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('callback_progress', sa.Boolean(), server_default='false', nullable=False))


def downgrade():
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_column('callback_progress')
        batch_op.drop_column('callback_url')
