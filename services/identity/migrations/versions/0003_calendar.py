"""Our copy of registration's calendar (CalendarPhaseChanged), for the 身份认证 window.

Revision ID: 0003
"""

from alembic import op

from zsb.common.calendar import calendar_columns

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table("calendar_phases", *calendar_columns())


def downgrade() -> None:
    op.drop_table("calendar_phases")
