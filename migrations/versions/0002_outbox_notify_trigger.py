"""Notify the outbox relay from a trigger, so every outbox insert wakes it at commit.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        CREATE FUNCTION conveyor_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('conveyor_outbox', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION conveyor_outbox_notify();
    """)


def downgrade():
    op.execute("DROP TRIGGER outbox_notify ON outbox; DROP FUNCTION conveyor_outbox_notify();")
