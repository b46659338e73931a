"""Outbox and processed events.

Revision ID: 0001
"""

from alembic import op

from zsb.common.tables import create_common_tables, drop_common_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_common_tables(op.get_bind())


def downgrade() -> None:
    drop_common_tables(op.get_bind())
