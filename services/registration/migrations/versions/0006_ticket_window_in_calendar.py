"""The ticket-printing window moves from `exam_settings` to the calendar's 准考证打印 phase.

One way to set it: the calendar page. A window set the old way is carried into `calendar_phases`
when that phase was not set there yet (no event is written: only this service enforces the phase,
and the next change on the calendar page publishes it as usual). Downgrade copies it back.

Revision ID: 0006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

PHASE = "ticket_printing"


def _calendar() -> sa.Table:
    return sa.table(
        "calendar_phases",
        sa.column("phase", sa.String),
        sa.column("opens_at", sa.DateTime),
        sa.column("closes_at", sa.DateTime),
        sa.column("version", sa.BigInteger),
        sa.column("updated_at", sa.DateTime),
        sa.column("updated_by", sa.String),
    )


def upgrade() -> None:
    conn = op.get_bind()
    settings = sa.table(
        "exam_settings",
        sa.column("id", sa.Integer),
        sa.column("ticket_open_at", sa.DateTime),
        sa.column("ticket_close_at", sa.DateTime),
    )
    calendar = _calendar()
    old = sa.select(settings.c.ticket_open_at, settings.c.ticket_close_at).where(settings.c.id == 1)
    row = conn.execute(old).first()
    already = conn.execute(sa.select(calendar.c.phase).where(calendar.c.phase == PHASE)).first()
    if row is not None and (row.ticket_open_at or row.ticket_close_at) and already is None:
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(
            calendar.insert().values(
                phase=PHASE,
                opens_at=row.ticket_open_at,
                closes_at=row.ticket_close_at,
                version=int(now.timestamp() * 1_000_000),
                updated_at=now,
                updated_by="migration-0006",
            )
        )
    with op.batch_alter_table("exam_settings") as batch:
        batch.drop_column("ticket_open_at")
        batch.drop_column("ticket_close_at")


def downgrade() -> None:
    with op.batch_alter_table("exam_settings") as batch:
        batch.add_column(sa.Column("ticket_open_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("ticket_close_at", sa.DateTime, nullable=True))
    conn = op.get_bind()
    calendar = _calendar()
    row = conn.execute(sa.select(calendar.c.opens_at, calendar.c.closes_at).where(calendar.c.phase == PHASE)).first()
    if row is not None:
        settings = sa.table(
            "exam_settings",
            sa.column("id", sa.Integer),
            sa.column("ticket_open_at", sa.DateTime),
            sa.column("ticket_close_at", sa.DateTime),
        )
        conn.execute(
            settings.update()
            .where(settings.c.id == 1)
            .values(ticket_open_at=row.opens_at, ticket_close_at=row.closes_at)
        )
