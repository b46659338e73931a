"""奖励加分 granted by the qualification review: whole points, 0 for everyone approved before.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("review_bonus_points", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("review_bonus_points")
