"""Transactional outbox: events written with the data, published by a relay, at least once."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid

from google.protobuf.message import Message
from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from zsb.common.clock import utcnow
from zsb.common.context import get_request_id
from zsb.common.db import Database
from zsb.common.events import build_headers, topic_for
from zsb.common.tables import outbox

log = logging.getLogger(__name__)


def add_event(session: Session, service: str, key: str, message: Message) -> str:
    """Write an event to the outbox inside the caller's transaction; returns its ce_id."""
    ce_id = str(uuid.uuid4())
    session.execute(
        insert(outbox).values(
            id=ce_id,
            topic=topic_for(service),
            key=key,
            ce_type=message.DESCRIPTOR.full_name,
            payload=message.SerializeToString(),
            request_id=get_request_id(),
            created_at=utcnow(),
        )
    )
    return ce_id


def make_producer(bootstrap_servers: str) -> KafkaProducer:
    """acks=all and one request in flight, so that events of one key keep their order."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        acks="all",
        retries=5,
        max_in_flight_requests_per_connection=1,
        linger_ms=5,
        request_timeout_ms=10000,
        reconnect_backoff_max_ms=2000,
    )


class _BrokerUnavailable(Exception):
    """Raised inside the unit of work so that the claimed rows are released unmarked."""


class OutboxRelay:
    """Publishes unpublished outbox rows in order and marks them sent.

    With several replicas on MySQL, rows are claimed with SKIP LOCKED so replicas do not
    publish the same batch; a crash between send and mark republishes (at least once).
    """

    def __init__(self, db: Database, service: str, bootstrap_servers: str, batch_size: int = 200) -> None:
        self.db = db
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self._producer: KafkaProducer | None = None

    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.bootstrap_servers)
        return self._producer

    def _drop_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):  # closing a broken producer may fail in many ways
                self._producer.close(timeout=1)
            self._producer = None

    def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published (0 when idle or on error)."""
        try:
            return self._publish_batch()
        except _BrokerUnavailable:
            return 0

    def _publish_batch(self) -> int:
        with self.db.unit_of_work() as session:
            query = select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(self.batch_size)
            if self.db.is_mysql:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return 0
            try:
                producer = self._get_producer()
                futures = [
                    producer.send(
                        row.topic,
                        key=row.key.encode(),
                        value=row.payload,
                        headers=build_headers(
                            row.id, row.ce_type, self.service, row.created_at.isoformat() + "Z", row.request_id
                        ),
                    )
                    for row in rows
                ]
                producer.flush(timeout=15)
                for future in futures:
                    future.get(timeout=15)
            except (KafkaError, OSError) as exc:
                # Nothing is marked: the whole batch is sent again once the broker is back.
                log.warning("outbox publish failed, will retry", extra={"error": str(exc)})
                self._drop_producer()
                raise _BrokerUnavailable from exc
            session.execute(update(outbox).where(outbox.c.seq.in_([r.seq for r in rows])).values(published_at=utcnow()))
            return len(rows)

    def run(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        """Loop until `stop` is set; back off while the broker or database is away."""
        backoff = poll_seconds
        while not stop.is_set():
            try:
                published = self.publish_pending()
                backoff = poll_seconds
            except Exception:
                log.exception("outbox relay error")
                published = 0
                backoff = min(backoff * 2, 5.0)
            if not published:
                stop.wait(backoff)
        self._drop_producer()
