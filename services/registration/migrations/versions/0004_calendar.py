"""The calendar of the year: one window per phase, set by the province.

Revision ID: 0004
"""

from alembic import op

from zsb.common.calendar import calendar_columns

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table("calendar_phases", *calendar_columns())


def downgrade() -> None:
    op.drop_table("calendar_phases")
