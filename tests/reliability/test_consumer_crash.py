"""A consumer killed in the middle of handling a message handles it once after the restart.

The registration service's consumer takes a real PaymentSucceeded (a candidate pays through the
gateway and the provider sandbox). The test holds a row lock on that candidate's registration
row, so the handler, which locks the row first, waits inside its transaction: the test sees the
wait in InnoDB and kills the process with SIGKILL there, deterministically inside the handler,
after the consumer's duplicate check and before its commit. After the restart the message is
handled once: the registration shows the payment, the processed-event log holds its ce_id once,
the group's offset moved past it, and nothing went to the dead-letter topic.

(The library's own tests cover the other crash point, after the commit and before the offset
commit: libs/zsb/common/tests/test_outbox_kafka.py::test_crash_before_commit_redelivers_and_handles_once.)
"""

from __future__ import annotations

import signal

import pytest
from kafka import KafkaAdminClient
from sqlalchemy import text

from tests.conftest import wait_for
from tests.reliability.conftest import Faults
from tests.reliability.stream import Stream, _ce_id, _ce_type, read_topics

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]


def registration_row(faults: Faults, number: str) -> tuple[str, str] | None:
    with faults.db("registration").connect() as conn:
        row = conn.execute(
            text("SELECT identity_status, payment_status FROM candidates WHERE candidate_no = :n"), {"n": number}
        ).first()
    return (row[0], row[1]) if row else None


def handler_waits_on_our_lock(faults: Faults) -> bool:
    """Registration's consumer is inside a transaction, waiting for the candidates row we lock."""
    database = faults.db("registration").url.database
    with faults.db("registration").connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "
                "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
                "WHERE t.trx_state = 'LOCK WAIT' AND p.DB = :db AND t.trx_query LIKE '%FROM candidates%'"
            ),
            {"db": database},
        ).scalar_one()
    return bool(waiting)


def test_consumer_killed_inside_its_handler_handles_the_message_once_after_restart(healthy: Faults) -> None:
    stream = Stream(healthy, pay_reserve=0)
    stream.prepare(pay=1, prefs=0, photos=0)
    candidate = stream.to_pay[0]
    # Earlier facts about the candidate are handled, so the only one left to come is the payment.
    wait_for(lambda: registration_row(healthy, candidate.number) == ("succeeded", "pending"), 120)

    platform = healthy.system.platform
    lock = healthy.db("registration").connect()
    tx = lock.begin()
    try:
        lock.execute(
            text("SELECT candidate_no FROM candidates WHERE candidate_no = :n FOR UPDATE"), {"n": candidate.number}
        )
        stream.act_pay()
        assert candidate.number in stream.paid, stream.summary()
        wait_for(lambda: handler_waits_on_our_lock(healthy), 120)
        platform.kill("registration", signal.SIGKILL)
    finally:
        tx.rollback()
        lock.close()
    assert registration_row(healthy, candidate.number) == ("succeeded", "pending")  # nothing of it was kept

    platform.start("registration")
    platform.wait_ready(["registration"], timeout=120)
    wait_for(lambda: registration_row(healthy, candidate.number) == ("succeeded", "succeeded"), 120)

    [record] = [
        r
        for r in read_topics(healthy.kafka_bootstrap, [healthy.system.topic("payment")])
        if _ce_type(r).endswith(".PaymentSucceeded") and r.key.decode() == candidate.number
    ]
    group = healthy.group("registration")
    with healthy.db("registration").connect() as conn:
        handled = conn.execute(
            text("SELECT COUNT(*) FROM processed_events WHERE consumer = :g AND ce_id = :id"),
            {"g": group, "id": _ce_id(record)},
        ).scalar_one()
    assert handled == 1

    def committed_past() -> bool:
        admin = KafkaAdminClient(bootstrap_servers=healthy.kafka_bootstrap.split(","))
        try:
            offsets = admin.list_consumer_group_offsets(group)
        finally:
            admin.close()
        return any(
            tp.topic == record.topic and tp.partition == record.partition and meta.offset > record.offset
            for tp, meta in offsets.items()
        )

    wait_for(committed_past, 60)
    dead = read_topics(healthy.kafka_bootstrap, [healthy.system.topic("payment") + ".dlq"])
    assert not dead
