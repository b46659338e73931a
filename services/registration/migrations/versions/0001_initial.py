"""Candidates projected from auth events, outbox and processed events.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from zsb.common.tables import create_common_tables, drop_common_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_common_tables(op.get_bind())
    op.create_table(
        "candidates",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("point_code", sa.String(10), nullable=False, index=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("candidates")
    drop_common_tables(op.get_bind())
