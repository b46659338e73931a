"""SMS codes carry their purpose, so a code for one action never confirms another.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("sms_codes") as batch:
        batch.add_column(sa.Column("purpose", sa.String(20), nullable=False, server_default="reset"))


def downgrade() -> None:
    with op.batch_alter_table("sms_codes") as batch:
        batch.drop_column("purpose")
