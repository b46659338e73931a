"""The platform's audit log (`audit_log`), filled with the security events recorded so far.

Revision ID: 0004
"""

from dataclasses import asdict

import sqlalchemy as sa
from alembic import op

from services.auth.domain.audit import Entry

revision = "0004"
down_revision = "0003"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 2000


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("service", sa.String(20), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("candidate_no", sa.String(14), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at", "id"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_subject_at", "audit_log", ["subject", "at"])
    op.create_index("ix_audit_log_candidate_at", "audit_log", ["candidate_no", "at"])
    op.create_index("ix_audit_log_service_action_at", "audit_log", ["service", "action", "at"])
    _copy_security_events()


def _copy_security_events() -> None:
    """Earlier security events join the log under ids of their own (`security-<id>`), in batches."""
    bind = op.get_bind()
    source = sa.table(
        "security_events",
        *(sa.column(c) for c in ("id", "at", "kind", "subject", "actor", "ip", "detail")),
    )
    target = sa.table(
        "audit_log",
        *(
            sa.column(c)
            for c in (
                "event_id",
                "at",
                "service",
                "action",
                "subject",
                "candidate_no",
                "actor",
                "actor_role",
                "detail",
                "ip",
                "level",
            )
        ),
    )
    last = 0
    while True:
        rows = bind.execute(sa.select(source).where(source.c.id > last).order_by(source.c.id).limit(BATCH)).all()
        if not rows:
            return
        entries = [
            Entry.of(f"security-{r.id}", r.at, "auth", r.kind, r.subject, r.actor, "", r.detail, ip=r.ip) for r in rows
        ]
        bind.execute(sa.insert(target), [asdict(e) for e in entries])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table("audit_log")
