"""Idempotent Kafka consumer: handle, record ce_id in the same transaction, then commit the offset.

A handler that keeps failing is retried `max_attempts` times; then the message goes to
`<topic>.dlq` with the error, and consumption continues. An undecodable message goes to
the DLQ at once. Offsets are committed only after the messages are handled or dead-lettered.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from zsb.common.clock import utcnow
from zsb.common.context import reset_request_id, set_request_id
from zsb.common.db import Database
from zsb.common.events import Envelope, UndecodableEvent, decode, dlq_topic
from zsb.common.outbox import make_producer
from zsb.common.tables import processed_events

log = logging.getLogger(__name__)

Handler = Callable[[Session, Message, Envelope], None]


@dataclass
class Subscription:
    """What one consumer group of a service reads: topics and a handler per event type."""

    group: str
    topics: list[str]
    handlers: dict[str, Handler] = field(default_factory=dict)

    def on(self, message_cls: type[Message]) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for one protobuf event type."""

        def register(fn: Handler) -> Handler:
            self.handlers[message_cls.DESCRIPTOR.full_name] = fn
            return fn

        return register


class IdempotentConsumer:
    def __init__(
        self,
        db: Database,
        subscription: Subscription,
        bootstrap_servers: str,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 0.2,
    ) -> None:
        self.db = db
        self.sub = subscription
        self.bootstrap_servers = bootstrap_servers
        self.max_attempts = max_attempts
        self.retry_backoff_seconds = retry_backoff_seconds
        self._consumer: KafkaConsumer | None = None
        self._dlq_producer: KafkaProducer | None = None

    def _connect(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers.split(","),
            group_id=self.sub.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=100,
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
            # Metadata refresh picks up topics created after the consumer started.
            metadata_max_age_ms=5000,
        )
        consumer.subscribe(self.sub.topics)
        return consumer

    def handle(self, record: ConsumerRecord) -> str:
        """Handle one record; returns 'handled', 'duplicate', 'ignored' or 'dead-lettered'."""
        env = Envelope.from_headers(record.headers, record.value)
        handler = self.sub.handlers.get(env.ce_type)
        if handler is None:
            return "ignored"  # another consumer's event on a shared topic
        token = set_request_id(env.request_id)
        try:
            try:
                message = decode(env.ce_type, env.payload)
            except UndecodableEvent as exc:
                self._dead_letter(record, str(exc))
                return "dead-lettered"
            if not env.ce_id:
                self._dead_letter(record, "missing ce_id header")
                return "dead-lettered"
            last_error = ""
            for attempt in range(1, self.max_attempts + 1):
                try:
                    return self._handle_once(env, message, record.topic)
                except (OperationalError, InterfaceError):
                    # The database is away: not the message's fault. The loop reconnects and
                    # the uncommitted offset brings the message back.
                    raise
                except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
                    last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "event handler failed",
                        extra={"ce_id": env.ce_id, "ce_type": env.ce_type, "attempt": attempt, "error": last_error},
                    )
                    time.sleep(self.retry_backoff_seconds * attempt)
            self._dead_letter(record, last_error)
            return "dead-lettered"
        finally:
            reset_request_id(token)

    def _handle_once(self, env: Envelope, message: Message, topic: str) -> str:
        try:
            with self.db.unit_of_work() as session:
                seen = session.execute(
                    select(processed_events.c.ce_id).where(
                        processed_events.c.consumer == self.sub.group, processed_events.c.ce_id == env.ce_id
                    )
                ).first()
                if seen:
                    return "duplicate"
                self.sub.handlers[env.ce_type](session, message, env)
                session.execute(
                    insert(processed_events).values(
                        consumer=self.sub.group, ce_id=env.ce_id, topic=topic, handled_at=utcnow()
                    )
                )
        except IntegrityError:
            # A concurrent replica recorded this ce_id first: its transaction holds the effect.
            with self.db.unit_of_work() as session:
                if session.execute(
                    select(processed_events.c.ce_id).where(
                        processed_events.c.consumer == self.sub.group, processed_events.c.ce_id == env.ce_id
                    )
                ).first():
                    return "duplicate"
            raise
        return "handled"

    def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        if self._dlq_producer is None:
            self._dlq_producer = make_producer(self.bootstrap_servers)
        headers = [
            *(record.headers or []),
            ("x-dlq-error", error[:1000].encode()),
            ("x-dlq-consumer", self.sub.group.encode()),
            ("x-dlq-origin", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        self._dlq_producer.send(dlq_topic(record.topic), key=record.key, value=record.value, headers=headers).get(
            timeout=15
        )
        log.error("event dead-lettered", extra={"topic": record.topic, "offset": record.offset, "error": error})

    def poll_once(self, timeout_ms: int = 500, commit: bool = True) -> list[str]:
        """Poll, handle and commit one batch; returns the outcome of each record.

        Offsets are committed once the whole batch is handled: a crash re-delivers at most
        that batch, and the processed-event log makes the repeats change nothing.
        `commit=False` leaves offsets uncommitted, as a crash right after handling would.
        """
        if self._consumer is None:
            self._consumer = self._connect()
        outcomes: list[str] = []
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in self._consumer.poll(timeout_ms=timeout_ms).items():
            for record in records:
                outcomes.append(self.handle(record))
                offsets[TopicPartition(tp.topic, tp.partition)] = OffsetAndMetadata(record.offset + 1, "", -1)
        if commit and offsets:
            self._consumer.commit(offsets)
        return outcomes

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("consumer loop error; reconnecting")
                self.close()
                stop.wait(1.0)
        self.close()

    def close(self) -> None:
        # Closing a client whose broker is gone may fail in many ways; it is dropped either way.
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close(autocommit=False)
            self._consumer = None
        if self._dlq_producer is not None:
            with contextlib.suppress(Exception):
                self._dlq_producer.close(timeout=1)
            self._dlq_producer = None
