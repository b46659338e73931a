"""The outbox relay and the idempotent consumer against the real Kafka broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.orm import Session

from zsb.common.consumer import IdempotentConsumer, Subscription
from zsb.common.db import Database
from zsb.common.events import Envelope, build_headers, dlq_topic, topic_for
from zsb.common.outbox import OutboxRelay, add_event
from zsb.common.tables import common_metadata, outbox
from zsb.events.v1 import auth_events_pb2

Created = auth_events_pb2.CandidateAccountCreated
test_md = MetaData()
seen = Table("seen", test_md, Column("candidate_no", String(20), primary_key=True), Column("times", Integer))


@pytest.fixture
def service(kafka_bootstrap: str) -> Iterator[str]:
    """A throwaway producing service with its own topic and DLQ topic."""
    name = f"t{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(t, 3, 1) for t in (topic_for(name), dlq_topic(topic_for(name)))])
    admin.close()
    yield name


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    common_metadata.create_all(database.engine)
    test_md.create_all(database.engine)
    yield database
    database.dispose()


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30.0) -> list[tuple[Envelope, dict]]:
    """Every record of a topic from the beginning (no group), until `expect` are read or timeout."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    out: list[tuple[Envelope, dict]] = []
    deadline = time.monotonic() + timeout
    while len(out) < expect and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            out += [(Envelope.from_headers(r.headers, r.value), dict(r.headers)) for r in records]
    # One more short poll so that a test expecting N sees any N+1th (a duplicate) too.
    for records in consumer.poll(timeout_ms=1000).values():
        out += [(Envelope.from_headers(r.headers, r.value), dict(r.headers)) for r in records]
    consumer.close()
    return out


def write_events(db: Database, service: str, numbers: list[str]) -> None:
    with db.unit_of_work() as session:
        for n in numbers:
            add_event(session, service, n, Created(candidate_no=n, name="考生"))


def unpublished(db: Database) -> int:
    with db.unit_of_work() as session:
        return session.execute(select(func.count()).where(outbox.c.published_at.is_(None))).scalar_one()


def test_relay_publishes_committed_events_only(db: Database, service: str, kafka_bootstrap: str) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        add_event(session, service, "rolled-back", Created(candidate_no="rolled-back"))
        raise RuntimeError("use case failed after writing its event")
    write_events(db, service, ["c1", "c2"])
    relay = OutboxRelay(db, service, kafka_bootstrap)
    assert relay.publish_pending() == 2
    assert relay.publish_pending() == 0
    got = read_topic(kafka_bootstrap, topic_for(service), expect=2)
    keys = sorted(env.ce_type + ":" + Created.FromString(env.payload).candidate_no for env, _ in got)
    assert keys == ["zsb.events.v1.CandidateAccountCreated:c1", "zsb.events.v1.CandidateAccountCreated:c2"]
    assert all(
        h["content-type"] == b"application/protobuf" and h["ce_source"] == f"/zsb/{service}".encode() for _, h in got
    )


def test_events_of_one_key_keep_their_order(db: Database, service: str, kafka_bootstrap: str) -> None:
    with db.unit_of_work() as session:
        for i in range(20):
            add_event(session, service, "same-candidate", Created(candidate_no="same-candidate", name=str(i)))
    OutboxRelay(db, service, kafka_bootstrap).publish_pending()
    got = read_topic(kafka_bootstrap, topic_for(service), expect=20)
    assert [Created.FromString(env.payload).name for env, _ in got] == [str(i) for i in range(20)]


def subscription(service: str, fail_on: str = "") -> Subscription:
    sub = Subscription(group=f"g-{uuid.uuid4().hex[:8]}", topics=[topic_for(service)])

    @sub.on(Created)
    def count(session: Session, event: Created, _env: Envelope) -> None:
        if event.candidate_no == fail_on:
            raise ValueError("handler cannot process this event")
        row = session.execute(select(seen.c.times).where(seen.c.candidate_no == event.candidate_no)).first()
        if row is None:
            session.execute(seen.insert().values(candidate_no=event.candidate_no, times=1))
        else:
            session.execute(update(seen).where(seen.c.candidate_no == event.candidate_no).values(times=row.times + 1))

    return sub


def consume_until(consumer: IdempotentConsumer, db: Database, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        consumer.poll_once(timeout_ms=300)
        with db.unit_of_work() as session:
            if predicate(session):
                return
    raise AssertionError("consumer did not reach the expected state")


def times_seen(session: Session) -> dict[str, int]:
    return dict(session.execute(select(seen.c.candidate_no, seen.c.times)).all())


def test_redelivered_event_changes_nothing(db: Database, service: str, kafka_bootstrap: str) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    payload = Created(candidate_no="dup").SerializeToString()
    headers = build_headers("fixed-ce-id", Created.DESCRIPTOR.full_name, service, "2026-01-01T00:00:00Z", "r")
    for _ in range(3):  # the relay crashed between send and mark, twice
        producer.send(topic_for(service), key=b"dup", value=payload, headers=headers)
    producer.send(
        topic_for(service),
        key=b"after",
        value=Created(candidate_no="after").SerializeToString(),
        headers=build_headers("other-id", Created.DESCRIPTOR.full_name, service, "2026-01-01T00:00:00Z", "r"),
    )
    producer.flush()
    producer.close()
    consumer = IdempotentConsumer(db, subscription(service), kafka_bootstrap)
    try:
        consume_until(consumer, db, lambda s: "after" in times_seen(s))
    finally:
        consumer.close()
    with db.unit_of_work() as session:
        assert times_seen(session) == {"dup": 1, "after": 1}


def test_poison_messages_go_to_dlq_and_consumption_continues(db: Database, service: str, kafka_bootstrap: str) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    ce_type = Created.DESCRIPTOR.full_name

    def send(ce_id: str, value: bytes) -> None:
        # One key, so the three arrive in this order on one partition.
        headers = build_headers(ce_id, ce_type, service, "2026-01-01T00:00:00Z", "r")
        producer.send(topic_for(service), key=b"k", value=value, headers=headers)

    send("garbage", b"\xff\xff\xff\xff")  # cannot be parsed: DLQ at once
    send("failing", Created(candidate_no="bad").SerializeToString())  # handler keeps failing: DLQ after retries
    send("good", Created(candidate_no="good").SerializeToString())
    producer.flush()
    producer.close()
    consumer = IdempotentConsumer(
        db, subscription(service, fail_on="bad"), kafka_bootstrap, max_attempts=3, retry_backoff_seconds=0.01
    )
    try:
        consume_until(consumer, db, lambda s: "good" in times_seen(s))
    finally:
        consumer.close()
    dead = read_topic(kafka_bootstrap, dlq_topic(topic_for(service)), expect=2)
    assert sorted(env.ce_id for env, _ in dead) == ["failing", "garbage"]
    errors = {env.ce_id: h["x-dlq-error"].decode() for env, h in dead}
    assert "malformed" in errors["garbage"] and "ValueError" in errors["failing"]
    with db.unit_of_work() as session:
        assert times_seen(session) == {"good": 1}


def test_crash_before_commit_redelivers_and_handles_once(db: Database, service: str, kafka_bootstrap: str) -> None:
    """A consumer that dies after handling but before committing its offset: handled once after restart."""
    write_events(db, service, ["crash"])
    OutboxRelay(db, service, kafka_bootstrap).publish_pending()
    sub = subscription(service)
    first = IdempotentConsumer(db, sub, kafka_bootstrap)
    first_outcomes = poll_until_any(first, commit=False)
    first.close()  # the crash: the offset was never committed
    assert first_outcomes == ["handled"]
    second = IdempotentConsumer(db, sub, kafka_bootstrap)
    second_outcomes = poll_until_any(second, commit=True)
    second.close()
    assert second_outcomes == ["duplicate"]
    with db.unit_of_work() as session:
        assert times_seen(session) == {"crash": 1}


def poll_until_any(consumer: IdempotentConsumer, commit: bool, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    outcomes: list[str] = []
    while not outcomes and time.monotonic() < deadline:
        outcomes = consumer.poll_once(timeout_ms=300, commit=commit)
    return outcomes
