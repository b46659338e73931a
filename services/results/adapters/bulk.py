"""Bulk writes: a million rows or events in one transaction without a Python object each.

``add_events`` writes outbox rows exactly as ``zsb.common.outbox.add_event`` does, many per
statement (a score or result publication writes one event per candidate).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from itertools import islice

from google.protobuf.message import Message
from sqlalchemy import Executable, Table
from sqlalchemy.orm import Session

from zsb.common.clock import utcnow
from zsb.common.context import get_request_id
from zsb.common.events import topic_for
from zsb.common.tables import outbox

BATCH_ROWS = 20_000


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """INSERT ``rows`` (tuples in ``columns`` order) in executemany batches; returns the count.

    The statement goes to the driver as is (no per-row parameter processing, which costs more
    than the insert itself at a million rows): values must already be plain Python values.
    """
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # Identifiers are our own table's, quoted; values go as parameters.
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    count = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        connection.exec_driver_sql(sql, batch)
        count += len(batch)
    return count


def fetch_tuples(session: Session, statement: Executable) -> list[tuple]:
    """All rows of a SELECT as plain tuples from the driver's cursor: a million SQLAlchemy
    ``Row`` objects cost seconds, and numpy reads tuples much faster. Use only for columns
    whose driver value is what the caller wants (integers, text, booleans as 0/1)."""
    result = session.execute(statement)
    try:
        return result.cursor.fetchall()  # type: ignore[attr-defined]
    finally:
        result.close()


def add_events(session: Session, service: str, events: Iterable[tuple[str, Message]]) -> int:
    """Write (key, message) events to the outbox inside the caller's transaction."""
    topic = topic_for(service)
    request_id = get_request_id()
    now = utcnow()

    def rows() -> Iterable[tuple[object, ...]]:
        for key, message in events:
            yield (
                str(uuid.uuid4()),
                topic,
                key,
                message.DESCRIPTOR.full_name,
                message.SerializeToString(),
                request_id,
                now,
            )

    return insert_rows(
        session, outbox, ("id", "topic", "key", "ce_type", "payload", "request_id", "created_at"), rows()
    )
