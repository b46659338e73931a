"""表格下载 and the exam arrangement: exam settings, sites, rooms, timetable, arrangements and
seats (UNIQUE per seat and per candidate), the ticket pledge, payment receipts.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    settings = op.create_table(
        "exam_settings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("exam_title", sa.String(60), nullable=False),
        sa.Column("ticket_open_at", sa.DateTime, nullable=True),
        sa.Column("ticket_close_at", sa.DateTime, nullable=True),
        sa.Column("arrangement_seed", sa.String(40), nullable=False),
        sa.Column("plan_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.Column("updated_by", sa.String(40), nullable=False, server_default=""),
    )
    # The one row every arrangement use case locks; it exists from the start, so no two
    # first requests can race to create it.
    op.bulk_insert(
        settings,
        [{"id": 1, "exam_title": "山西省普通高校专升本选拔考试", "arrangement_seed": "zsb", "plan_version": 0}],
    )
    op.create_table(
        "exam_sites",
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("city_code", sa.String(2), nullable=False, index=True),
        sa.Column("address", sa.String(120), nullable=False),
    )
    op.create_table(
        "exam_rooms",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("site_code", sa.String(10), sa.ForeignKey("exam_sites.code"), nullable=False, index=True),
        sa.Column("room_no", sa.String(10), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("location", sa.String(60), nullable=False, server_default=""),
        sa.UniqueConstraint("site_code", "room_no", name="uq_exam_rooms_site_room"),
    )
    op.create_table(
        "exam_sessions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("major_category", sa.String(4), nullable=False, index=True),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("start", sa.String(5), nullable=False),
        sa.Column("end", sa.String(5), nullable=False),
    )
    op.create_table(
        "arrangements",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("seed", sa.String(40), nullable=False),
        sa.Column("kept_published", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("plan_version", sa.Integer, nullable=False),
        sa.Column("candidates", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=True),
        sa.Column("published_by", sa.String(40), nullable=False, server_default=""),
    )
    op.create_table(
        "seat_assignments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("arrangement_id", _ID, sa.ForeignKey("arrangements.id"), nullable=False, index=True),
        sa.Column("candidate_no", sa.String(14), nullable=False, index=True),
        sa.Column("city_code", sa.String(2), nullable=False),
        sa.Column("major_category", sa.String(4), nullable=False),
        sa.Column("site_code", sa.String(10), nullable=False),
        sa.Column("room_id", _ID, nullable=False),
        sa.Column("room_no", sa.String(10), nullable=False),
        sa.Column("seat_no", sa.Integer, nullable=False),
        sa.Column("ticket_serial", sa.String(24), nullable=False, index=True),
        sa.UniqueConstraint("arrangement_id", "candidate_no", name="uq_seat_assignments_candidate"),
        sa.UniqueConstraint("arrangement_id", "room_id", "seat_no", name="uq_seat_assignments_seat"),
        sa.UniqueConstraint("arrangement_id", "ticket_serial", name="uq_seat_assignments_serial"),
    )
    op.create_table(
        "ticket_pledges",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("shown_at", sa.DateTime, nullable=True),
        sa.Column("acknowledged_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "payment_receipts",
        sa.Column("candidate_no", sa.String(14), primary_key=True),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False, server_default=""),
        sa.Column("provider", sa.String(20), nullable=False, server_default=""),
        sa.Column("paid_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "payment_receipts",
        "ticket_pledges",
        "seat_assignments",
        "arrangements",
        "exam_sessions",
        "exam_rooms",
        "exam_sites",
        "exam_settings",
    ):
        op.drop_table(table)
