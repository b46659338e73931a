"""Candidate accounts, outbox and processed events.

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
        "candidate_accounts",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("id_number_enc", sa.String(200), nullable=False),
        sa.Column("id_number_hmac", sa.String(64), nullable=False, index=True),
        sa.Column("phone_enc", sa.String(200), nullable=False),
        sa.Column("phone_hmac", sa.String(64), nullable=False, index=True),
        sa.Column("point_code", sa.String(10), nullable=False, index=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("candidate_accounts")
    drop_common_tables(op.get_bind())
