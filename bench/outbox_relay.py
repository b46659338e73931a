"""Outbox relay throughput (events/s from a SQLite outbox to Kafka, acks=all) against the
baseline of a bare producer sending the same messages with the same settings."""

from __future__ import annotations

import tempfile
import time
import uuid

from kafka.admin import KafkaAdminClient, NewTopic

from zsb.common.db import Database
from zsb.common.events import topic_for
from zsb.common.outbox import OutboxRelay, add_event, make_producer
from zsb.common.settings import Settings
from zsb.common.tables import common_metadata
from zsb.events.v1 import auth_events_pb2

EVENTS = 20_000


def main() -> None:
    bootstrap = Settings().kafka_bootstrap_servers
    service = f"bench{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic_for(service), 3, 1)])
    admin.close()
    msg = auth_events_pb2.CandidateAccountCreated(candidate_no="21145101130001", name="张晓明", point_code="0113")

    producer = make_producer(bootstrap)
    started = time.perf_counter()
    for i in range(EVENTS):
        producer.send(topic_for(service), key=str(i % 1000).encode(), value=msg.SerializeToString())
    producer.flush()
    baseline = EVENTS / (time.perf_counter() - started)
    producer.close()

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        common_metadata.create_all(db.engine)
        with db.unit_of_work() as session:
            for i in range(EVENTS):
                add_event(session, service, str(i % 1000), msg)
        relay = OutboxRelay(db, service, bootstrap, batch_size=500)
        started = time.perf_counter()
        while relay.publish_pending():
            pass
        relayed = EVENTS / (time.perf_counter() - started)
        db.dispose()
    print(f"bare producer: {baseline:,.0f} events/s")
    print(f"outbox relay:  {relayed:,.0f} events/s  (ratio to bare producer: {relayed / baseline:.2f})")
