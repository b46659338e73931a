"""The events in and out, through the real Kafka: identity and registration facts open the payment,
放弃报名 refunds it, and what the service publishes leaves through its outbox relay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaProducer
from sqlalchemy import select

from services.payment.sandbox.testing import SandboxProcess, wait_until
from services.payment.tests.support import Stack, new_candidate_no, payment_stack
from zsb.common.clock import utcnow
from zsb.common.events import build_headers, topic_for
from zsb.common.tables import outbox
from zsb.events.v1 import identity_events_pb2 as identity
from zsb.events.v1 import registration_events_pb2 as registration
from zsb.payment.v1 import payment_pb2 as pb


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture
def stack(service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer) -> Iterator[Stack]:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer, consume=True) as s:
        yield s


@pytest.fixture
def publish(kafka_bootstrap: str) -> Iterator:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap.split(","), acks="all")

    def send(service: str, key: str, message: Message, ce_id: str | None = None) -> str:
        ce_id = ce_id or str(uuid.uuid4())
        headers = build_headers(ce_id, message.DESCRIPTOR.full_name, service, utcnow().isoformat() + "Z", "test")
        producer.send(topic_for(service), key=key.encode(), value=message.SerializeToString(), headers=headers).get(15)
        return ce_id

    yield send
    producer.close()


def now() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(utcnow())
    return ts


def test_events_open_the_payment_and_abandonment_refunds_it(stack: Stack, publish) -> None:
    me = new_candidate_no()

    def view() -> pb.PaymentOverview:
        return stack.stub.GetPayment(pb.GetPaymentRequest(candidate_no=me), metadata=stack.candidate(me))

    publish(
        "registration",
        me,
        registration.RegistrationConfirmed(
            candidate_no=me, name="李四", candidate_category="2", city_code="01", point_code="0113", at=now()
        ),
    )
    wait_until(lambda: view().blocked_reason == "请先完成“身份认证”", timeout=90)
    approved = identity.IdentityManuallyApproved(candidate_no=me, verification_id="v1", reviewer="r1", at=now())
    ce_id = publish("identity", me, approved)
    wait_until(lambda: view().can_pay, timeout=60)
    assert view().amount_fen == 25000 and view().category_name == "艺术类"
    publish("identity", me, approved, ce_id=ce_id)  # redelivered: nothing changes

    order = stack.pay(me, "wechat")
    stack.wait_state(order.order_no, "paid")
    publish("registration", me, registration.RegistrationAbandoned(candidate_no=me, payment_made=True, at=now()))
    wait_until(lambda: stack.refunds(me), timeout=60)
    stack.run_jobs_until(lambda: stack.order(order.order_no).state == "refunded")
    assert [e.amount_fen for e in stack.events("PaymentRefunded", me)] == [25000]

    # What the service published left through the relay (acks=all) in order.
    def published() -> list[tuple[str, object]]:
        with stack.app.deps.db.unit_of_work() as session:
            return session.execute(
                select(outbox.c.ce_type, outbox.c.published_at).where(outbox.c.key == me).order_by(outbox.c.seq)
            ).all()

    wait_until(lambda: all(at is not None for _, at in published()), timeout=30)
    assert [t for t, _ in published()] == ["zsb.events.v1.PaymentSucceeded", "zsb.events.v1.PaymentRefunded"]
