"""Content of the home and guide pages: notices, 报名操作流程 / 考生使用说明 (seeded with the texts
the pages showed before), and the 咨询电话 list.

Revision ID: 0005
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.registration.domain.content import PAGE_TITLES, SEED_PAGES

revision = "0005"
down_revision = "0004"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "site_notices",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False, index=True),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=False),
    )
    pages = op.create_table(
        "site_pages",
        sa.Column("key", sa.String(20), primary_key=True),
        sa.Column("title", sa.String(60), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=False),
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    op.bulk_insert(
        pages,
        [
            {"key": key, "title": PAGE_TITLES[key], "body": body, "updated_at": now, "updated_by": ""}
            for key, body in SEED_PAGES.items()
        ],
    )
    op.create_table(
        "hotlines",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("city_code", sa.String(2), nullable=False),
        sa.Column("point_code", sa.String(10), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("hours", sa.String(60), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hotlines")
    op.drop_table("site_pages")
    op.drop_table("site_notices")
