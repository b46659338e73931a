"""The outbox relay alone while its broker stops and starts: writes go on, nothing is lost.

Moved here from libs/zsb/common/tests/test_outbox_kafka.py so that it stops the private Kafka of
the fault tests, never the shared one other tests are using.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import create_engine, text

from tests.reliability.conftest import PrivateInfra
from zsb.common.db import Database
from zsb.common.events import dlq_topic, topic_for
from zsb.common.outbox import OutboxRelay
from zsb.common.tables import common_metadata
from zsb.common.tests.test_outbox_kafka import Created, read_topic, unpublished, write_events

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(params=["sqlite", "mariadb"])
def db(request: pytest.FixtureRequest, private_infra: PrivateInfra, tmp_path: Path) -> Iterator[Database]:
    """The relay's database on SQLite and on the private MariaDB."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'relay.db'}", ""
    else:
        drop = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(private_infra.mariadb_admin_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{drop}` CHARACTER SET utf8mb4"))
        url = private_infra.mariadb_admin_url.rstrip("/") + f"/{drop}?charset=utf8mb4"
    database = Database(url)
    common_metadata.create_all(database.engine)
    yield database
    database.dispose()
    if drop:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{drop}`"))
        admin.dispose()


def test_broker_restart_while_writing_loses_nothing(db: Database, private_infra: PrivateInfra) -> None:
    bootstrap = private_infra.kafka_bootstrap
    service = f"t{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(t, 3, 1) for t in (topic_for(service), dlq_topic(topic_for(service)))])
    admin.close()
    relay = OutboxRelay(db, service, bootstrap)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop, 0.05), daemon=True)
    thread.start()
    numbers = [f"n{i:03d}" for i in range(60)]
    try:
        write_events(db, service, numbers[:20])
        private_infra.stop("kafka")
        write_events(db, service, numbers[20:40])  # the broker is down: writes go on
        assert unpublished(db) >= 20
        private_infra.start("kafka")
        write_events(db, service, numbers[40:])
        deadline = time.monotonic() + 120
        while unpublished(db) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert unpublished(db) == 0
    finally:
        stop.set()
        thread.join(timeout=30)
        if not private_infra.running("kafka"):
            private_infra.start("kafka")
    got = read_topic(bootstrap, topic_for(service), expect=60)
    assert {Created.FromString(env.payload).candidate_no for env, _ in got} == set(numbers)
