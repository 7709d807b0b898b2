"""Failed-guess counters shared by every process (shared.credential_throttle); API key expiry and scopes.

Existing keys get the scopes they could use before (jobs:read jobs:write) and no expiry.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'credential_failures',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_credential_failures')),
    )
    op.create_index(op.f('ix_credential_failures_last_failure_at'), 'credential_failures',
                    ['last_failure_at'], unique=False)
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scopes', sa.String(length=200), server_default='jobs:read jobs:write',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.drop_column('scopes')
        batch_op.drop_column('expires_at')
    op.drop_index(op.f('ix_credential_failures_last_failure_at'), table_name='credential_failures')
    op.drop_table('credential_failures')
