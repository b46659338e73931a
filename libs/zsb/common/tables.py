"""Tables every service has beside its own: the outbox and the processed-event log.

They live in one MetaData here so that the relay and the consumer work against any
service's database; each service's first migration creates them with `create_common_tables`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

common_metadata = MetaData()

# BigInteger autoincrement on MySQL, plain INTEGER PRIMARY KEY (rowid) on SQLite.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    common_metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # the CloudEvents ce_id
    Column("topic", String(200), nullable=False),
    Column("key", String(100), nullable=False),
    Column("ce_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("request_id", String(64), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("published_at", DateTime, nullable=True),
    Index("ix_outbox_unpublished", "published_at", "seq"),
)

processed_events = Table(
    "processed_events",
    common_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("ce_id", String(64), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("handled_at", DateTime, nullable=False),
)


def create_common_tables(op_bind: object) -> None:
    """Create the common tables from a migration (`create_common_tables(op.get_bind())`)."""
    common_metadata.create_all(op_bind)  # type: ignore[arg-type]


def drop_common_tables(op_bind: object) -> None:
    common_metadata.drop_all(op_bind)  # type: ignore[arg-type]
