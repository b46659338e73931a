"""The wizard's progress, notices, the form (encrypted numbers, unique HMACs), documents,
reports (上报), reference data and the staff audit.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("city_code", sa.String(2), nullable=False, server_default=""))
        batch.add_column(sa.Column("candidate_type", sa.String(4), nullable=False, server_default=""))
        for name in ("basic_info_submitted_at", "confirmed_at", "forms_downloaded_at", "abandoned_at"):
            batch.add_column(sa.Column(name, sa.DateTime, nullable=True))
        for fact in ("identity", "payment"):
            batch.add_column(sa.Column(f"{fact}_status", sa.String(10), nullable=False, server_default="pending"))
            batch.add_column(sa.Column(f"{fact}_at", sa.DateTime, nullable=True))
            batch.add_column(sa.Column(f"{fact}_reason", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("payment_refunded_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("review_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("review_required", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("review_automatic", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("review_reason", sa.String(400), nullable=False, server_default=""))
        batch.add_column(sa.Column("review_submitted_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("review_decided_at", sa.DateTime, nullable=True))
        batch.create_index("ix_candidates_city_code", ["city_code"])
        batch.create_index("ix_candidates_review_status", ["review_status"])
    op.execute("UPDATE candidates SET city_code = SUBSTR(point_code, 1, 2)")

    op.create_table(
        "notice_readings",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("notice", sa.String(20), primary_key=True),
        sa.Column("shown_at", sa.DateTime, nullable=True),
        sa.Column("acknowledged_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "basic_infos",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("data_json", sa.Text, nullable=False),
        sa.Column("id_number_enc", sa.String(200), nullable=False),
        sa.Column("id_number_hmac", sa.String(64), nullable=False),
        sa.Column("phone_enc", sa.String(200), nullable=False),
        sa.Column("phone_hmac", sa.String(64), nullable=False),
        sa.Column("recipient_phone_enc", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("id_number_hmac", name="uq_basic_infos_id_number_hmac"),
        sa.UniqueConstraint("phone_hmac", name="uq_basic_infos_phone_hmac"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("candidate_no", sa.String(14), nullable=False, index=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("object_key", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("page_count", sa.Integer, nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("mismatch", sa.String(200), nullable=False, server_default=""),
        sa.Column("uploaded_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("scope", sa.String(10), primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("reported", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reported_at", sa.DateTime, nullable=True),
        sa.Column("reported_by", sa.String(40), nullable=False, server_default=""),
        sa.Column("withdrawal_allowed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "reference_data",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data_json", _LONG_TEXT, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=False),
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(20), nullable=False, index=True),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    )


def downgrade() -> None:
    for table in ("staff_audit", "reference_data", "reports", "documents", "basic_infos", "notice_readings"):
        op.drop_table(table)
    with op.batch_alter_table("candidates") as batch:
        batch.drop_index("ix_candidates_review_status")
        batch.drop_index("ix_candidates_city_code")
        for name in (
            "review_decided_at",
            "review_submitted_at",
            "review_reason",
            "review_automatic",
            "review_required",
            "review_status",
            "payment_refunded_at",
            "payment_reason",
            "payment_at",
            "payment_status",
            "identity_reason",
            "identity_at",
            "identity_status",
            "abandoned_at",
            "forms_downloaded_at",
            "confirmed_at",
            "basic_info_submitted_at",
            "candidate_type",
            "city_code",
        ):
            batch.drop_column(name)
