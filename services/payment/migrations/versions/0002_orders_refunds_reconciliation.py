"""Fees (seeded), candidate projection, orders, refunds, notifications, audit, reconciliations.

Revision ID: 0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.payment.domain.fees import DEFAULT_FEES

revision = "0002"
down_revision = "0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    fees = op.create_table(
        "fees",
        sa.Column("category_code", sa.String(4), primary_key=True),
        sa.Column("category_name", sa.String(20), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=False),
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    op.bulk_insert(
        fees,
        [
            {"category_code": c, "category_name": n, "amount_fen": f, "updated_at": now, "updated_by": "seed"}
            for c, n, f in DEFAULT_FEES
        ],
    )
    op.create_table(
        "candidates",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("category_code", sa.String(4), nullable=False),
        sa.Column("city_code", sa.String(2), nullable=False, index=True),
        sa.Column("point_code", sa.String(10), nullable=False, index=True),
        sa.Column("identity_verified_at", sa.DateTime, nullable=True),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("abandoned_at", sa.DateTime, nullable=True),
        sa.Column("open_order_no", sa.String(32), nullable=True),
        sa.Column("paid_order_no", sa.String(32), nullable=True),
        sa.Column("refund_decision", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("order_no", sa.String(32), primary_key=True),
        sa.Column("candidate_no", sa.String(14), nullable=False, index=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("category_code", sa.String(4), nullable=False),
        sa.Column("description", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("action_kind", sa.String(10), nullable=False),
        sa.Column("action_url", sa.Text, nullable=False),
        sa.Column("action_fields", sa.Text, nullable=False),
        sa.Column("provider_trade_no", sa.String(64), nullable=True),
        sa.Column("paid_at", sa.DateTime, nullable=True),
        sa.Column("paid_via", sa.String(10), nullable=False),
        sa.Column("duplicate", sa.Boolean, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("end_reason", sa.String(100), nullable=False),
        sa.Column("next_check_at", sa.DateTime, nullable=True),
        sa.Column("check_attempts", sa.Integer, nullable=False),
        sa.Column("last_queried_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("provider", "provider_trade_no", name="uq_orders_provider_trade_no"),
    )
    op.create_index("ix_orders_state_next_check", "orders", ["state", "next_check_at"])
    op.create_index("ix_orders_paid_at", "orders", ["provider", "paid_at"])
    op.create_table(
        "refunds",
        sa.Column("refund_no", sa.String(32), primary_key=True),
        sa.Column("order_no", sa.String(32), nullable=False, unique=True),
        sa.Column("candidate_no", sa.String(14), nullable=False, index=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("duplicate", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("provider_refund_id", sa.String(64), nullable=True),
        sa.Column("succeeded_at", sa.DateTime, nullable=True),
        sa.Column("next_check_at", sa.DateTime, nullable=True),
        sa.Column("check_attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_refunds_state_next_check", "refunds", ["state", "next_check_at"])
    op.create_index("ix_refunds_succeeded_at", "refunds", ["provider", "succeeded_at"])
    op.create_table(
        "notifications",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime, nullable=False, index=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False, index=True),
        sa.Column("refund_no", sa.String(64), nullable=False),
        sa.Column("dedup_key", sa.String(160), nullable=False, index=True),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("remote_addr", sa.String(45), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("level", sa.String(10), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("remote_addr", sa.String(45), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("bill_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("statement_entries", sa.Integer, nullable=False),
        sa.Column("statement_paid_fen", sa.BigInteger, nullable=False),
        sa.Column("statement_refunded_fen", sa.BigInteger, nullable=False),
        sa.Column("our_paid_fen", sa.BigInteger, nullable=False),
        sa.Column("our_refunded_fen", sa.BigInteger, nullable=False),
        sa.Column("statement_key", sa.String(200), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
    )
    op.create_index("ix_reconciliations_provider_date", "reconciliations", ["provider", "bill_date"])
    op.create_table(
        "reconciliation_differences",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", _ID, nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("refund_no", sa.String(64), nullable=False),
        sa.Column("ours_fen", sa.BigInteger, nullable=True),
        sa.Column("theirs_fen", sa.BigInteger, nullable=True),
        sa.Column("ours_state", sa.String(12), nullable=False),
        sa.Column("theirs_state", sa.String(12), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "reconciliation_differences",
        "reconciliations",
        "audit",
        "notifications",
        "refunds",
        "orders",
        "candidates",
        "fees",
    ):
        op.drop_table(table)
