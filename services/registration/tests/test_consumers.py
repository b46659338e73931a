"""The registration service's consumers against the real Kafka: auth, identity and payment facts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.message import Message
from kafka import KafkaProducer
from sqlalchemy import func, select

from services.registration.adapters import Candidate
from services.registration.consumers import GROUP
from services.registration.main import SPEC
from zsb.common.events import build_headers, topic_for
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import processed_events
from zsb.events.v1 import auth_events_pb2, identity_events_pb2, payment_events_pb2


@pytest.fixture
def runtime(service_settings, database_url: str) -> Iterator[ServiceRuntime]:
    rt = ServiceRuntime(SPEC, service_settings("registration", database_url))
    rt.start()
    yield rt
    rt.stop(grace=0)


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    yield p
    p.close()


def send(producer: KafkaProducer, service: str, key: str, message: Message, ce_id: str = "") -> str:
    ce_id = ce_id or str(uuid.uuid4())
    headers = build_headers(ce_id, message.DESCRIPTOR.full_name, service, "2026-03-01T08:00:00Z", "")
    producer.send(topic_for(service), key=key.encode(), value=message.SerializeToString(), headers=headers).get(15)
    return ce_id


def wait_for(runtime: ServiceRuntime, number: str, check, timeout: float = 60.0) -> Candidate:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.ctx.db.unit_of_work() as session:
            row = session.get(Candidate, number)
            if row is not None and check(row):
                return row
        time.sleep(0.2)
    raise AssertionError(f"{number} never reached the expected state")


def test_facts_advance_identity_and_payment_once_whatever_their_order(runtime, producer) -> None:
    number = f"99{uuid.uuid4().int % 10**12:012d}"
    # Identity and payment facts may overtake the account's own event (different topics).
    send(producer, "identity", number, identity_events_pb2.IdentityVerificationFailed(candidate_no=number))
    approved = send(producer, "identity", number, identity_events_pb2.IdentityManuallyApproved(candidate_no=number))
    send(producer, "payment", number, payment_events_pb2.PaymentFailed(candidate_no=number, reason="订单已关闭"))
    paid = payment_events_pb2.PaymentSucceeded(candidate_no=number, order_no="o1", amount_fen=12000)
    paid.paid_at.FromJsonString("2026-03-02T09:30:00Z")
    first = send(producer, "payment", number, paid)
    send(producer, "payment", number, paid, ce_id=first)  # a redelivery of the same event
    late_failure = send(producer, "payment", number, payment_events_pb2.PaymentFailed(candidate_no=number))
    send(producer, "identity", number, identity_events_pb2.IdentityVerificationFailed(candidate_no=number))
    send(
        producer,
        "auth",
        number,
        auth_events_pb2.CandidateAccountCreated(candidate_no=number, name="李华", point_code="0201"),
    )
    row = wait_for(
        runtime,
        number,
        lambda r: r.name == "李华" and r.payment_status == "succeeded" and r.identity_status == "succeeded",
    )
    assert (row.point_code, row.city_code) == ("0201", "02")
    assert row.payment_at.isoformat() == "2026-03-02T09:30:00"

    # Success is final: the late failures were handled (recorded as processed) and changed nothing.
    def handled() -> set[str]:
        with runtime.ctx.db.unit_of_work() as session:
            query = select(processed_events.c.ce_id).where(
                processed_events.c.consumer.like(f"%{GROUP}"),
                processed_events.c.ce_id.in_([approved, first, late_failure]),
            )
            return set(session.scalars(query))

    # The late failure may still be on its way when the success shows: wait for it to be handled.
    deadline = time.monotonic() + 60
    while handled() != {approved, first, late_failure} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert handled() == {approved, first, late_failure}
    with runtime.ctx.db.unit_of_work() as session:
        # Handled once by this consumer group (the documents group records the payment on its own).
        once = select(func.count()).where(
            processed_events.c.ce_id == first, processed_events.c.consumer.like(f"%{GROUP}")
        )
        assert session.scalar(once) == 1
    row = wait_for(runtime, number, lambda r: r.identity_status == "succeeded")
    assert row.payment_status == "succeeded" and row.payment_reason == ""

    send(producer, "payment", number, payment_events_pb2.PaymentRefunded(candidate_no=number, refund_no="r1"))
    wait_for(runtime, number, lambda r: r.payment_refunded_at is not None)
    # A second account event for the same candidate changes nothing.
    send(
        producer,
        "auth",
        number,
        auth_events_pb2.CandidateAccountCreated(candidate_no=number, name="别人", point_code="0301"),
    )
    marker = f"98{uuid.uuid4().int % 10**12:012d}"
    send(
        producer,
        "auth",
        marker,
        auth_events_pb2.CandidateAccountCreated(candidate_no=marker, name="王五", point_code="0301"),
    )
    wait_for(runtime, marker, lambda r: r.name == "王五")
    with runtime.ctx.db.unit_of_work() as session:
        assert session.get(Candidate, number).name == "李华"


def test_a_failed_identity_check_shows_red_with_its_reason(runtime, producer) -> None:
    number = f"97{uuid.uuid4().int % 10**12:012d}"
    send(
        producer,
        "auth",
        number,
        auth_events_pb2.CandidateAccountCreated(candidate_no=number, name="赵六", point_code="0113"),
    )
    send(
        producer,
        "identity",
        number,
        identity_events_pb2.IdentityManuallyRejected(candidate_no=number, reviewer="r", reason="照片与身份证不符"),
    )
    row = wait_for(runtime, number, lambda r: r.identity_status == "failed")
    assert row.identity_reason == "身份认证未通过：照片与身份证不符"
