"""Batches, plan, eligibility projection, preference versions, staff audit.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    batches = op.create_table(
        "batches",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("poverty_only", sa.Boolean, nullable=False),
        sa.Column("opens_at", sa.DateTime, nullable=True),
        sa.Column("closes_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.Column("updated_by", sa.String(40), nullable=False),
    )
    # The two batches of 专升本, 建档立卡专项批 first until the province orders them otherwise.
    op.bulk_insert(
        batches,
        [
            {"code": "jdlk", "name": "建档立卡专项批本科", "position": 1, "poverty_only": True, "updated_by": ""},
            {"code": "ordinary", "name": "普通批本科", "position": 2, "poverty_only": False, "updated_by": ""},
        ],
    )
    state = op.create_table(
        "plan_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=True),
        sa.Column("imported_by", sa.String(40), nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "imported_by": ""}])
    op.create_table(
        "institutions",
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
    )
    op.create_table(
        "majors",
        sa.Column("institution_code", sa.String(10), primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
    )
    op.create_table(
        "plan_lines",
        sa.Column("batch_code", sa.String(16), primary_key=True),
        sa.Column("institution_code", sa.String(10), primary_key=True),
        sa.Column("major_code", sa.String(10), primary_key=True),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("places", sa.Integer, nullable=False),
    )
    op.create_index("ix_plan_lines_batch_category", "plan_lines", ["batch_code", "category"])
    op.create_table(
        "candidates",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("city_code", sa.String(2), nullable=False),
        sa.Column("point_code", sa.String(10), nullable=False),
        sa.Column("candidate_category", sa.String(4), nullable=False),
        sa.Column("major_category", sa.String(4), nullable=False),
        sa.Column("poverty_registered", sa.Boolean, nullable=False),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("abandoned_at", sa.DateTime, nullable=True),
        sa.Column("identity_passed", sa.Boolean, nullable=False),
        sa.Column("identity_at", sa.DateTime, nullable=True),
        sa.Column("qualification_approved", sa.Boolean, nullable=False),
        sa.Column("qualification_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("order_no", sa.String(64), primary_key=True),
        sa.Column("paid_at", sa.DateTime, nullable=True),
        sa.Column("refunded_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "preference_heads",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("batch_code", sa.String(16), primary_key=True),
        sa.Column("current_version_id", _ID, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("withdrawn_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "preference_versions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("candidate_no", sa.String(14), nullable=False),
        sa.Column("batch_code", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.UniqueConstraint("candidate_no", "batch_code", "number", name="uq_versions_number"),
        sa.UniqueConstraint("candidate_no", "idempotency_key", name="uq_versions_key"),
    )
    op.create_table(
        "preference_items",
        sa.Column("version_id", _ID, primary_key=True),
        sa.Column("slot", sa.String(1), primary_key=True),
        sa.Column("institution_code", sa.String(10), nullable=False),
        sa.Column("institution_name", sa.String(60), nullable=False),
        sa.Column("major_code", sa.String(10), nullable=False),
        sa.Column("major_name", sa.String(60), nullable=False),
    )
    op.create_table(
        "staff_actions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "staff_actions",
        "preference_items",
        "preference_versions",
        "preference_heads",
        "payments",
        "candidates",
        "plan_lines",
        "majors",
        "institutions",
        "plan_state",
        "batches",
    ):
        op.drop_table(table)
