"""The candidates projection, identity cases, photos, the verification queue and the staff audit.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "candidates",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False, server_default=""),
        sa.Column("city_code", sa.String(2), nullable=False, server_default="", index=True),
        sa.Column("point_code", sa.String(10), nullable=False, server_default="", index=True),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("abandoned_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "identity_cases",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("consent_at", sa.DateTime, nullable=True),
        sa.Column("consent_version", sa.String(20), nullable=False, server_default=""),
        sa.Column("consent_retention_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retake_kind", sa.String(20), nullable=True),
        sa.Column("retake_message", sa.String(200), nullable=False, server_default=""),
        sa.Column("review_reason", sa.String(20), nullable=True),
        sa.Column("request_reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("review_since", sa.DateTime, nullable=True, index=True),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("decided_by", sa.String(40), nullable=False, server_default=""),
        sa.Column("decision_reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("concluded_at", sa.DateTime, nullable=True),
        sa.Column("current_job", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("candidate_no", sa.String(14), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("object_key", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("mismatch", sa.String(200), nullable=False, server_default=""),
        sa.Column("uploaded_at", sa.DateTime, nullable=False, index=True),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("candidate_no", "kind", name="uq_photos_candidate_kind"),
    )
    op.create_table(
        "verification_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("candidate_no", sa.String(14), nullable=False, index=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("enqueued_at", sa.DateTime, nullable=False),
        sa.Column("not_before", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("worker", sa.String(60), nullable=False, server_default=""),
        sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("outcome", sa.String(10), nullable=False, server_default=""),
        sa.Column("distance", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("problem", sa.String(20), nullable=False, server_default=""),
        sa.Column("problem_kind", sa.String(20), nullable=False, server_default=""),
        sa.Column("message", sa.String(200), nullable=False, server_default=""),
        sa.Column("error", sa.String(300), nullable=False, server_default=""),
        sa.Column("portrait_sha256", sa.String(64), nullable=False, server_default=""),
        sa.Column("id_card_sha256", sa.String(64), nullable=False, server_default=""),
        sa.Index("ix_verification_jobs_due", "state", "not_before"),
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
    for table in ("staff_audit", "verification_jobs", "photos", "identity_cases", "candidates"):
        op.drop_table(table)
