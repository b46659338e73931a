"""Eligibility from the other services' events on the real Kafka broker, through the service's own
consumer thread: confirmed + identity + paid (not refunded) + qualified; abandoning ends it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaProducer
from sqlalchemy import func, select

from services.preferences.tests.conftest import Prefs, rpc_error
from services.preferences.tests.helpers import choices, key, wait_until
from zsb.common.events import build_headers, topic_for
from zsb.common.tables import outbox, processed_events
from zsb.events.v1 import identity_events_pb2 as identity_ev
from zsb.events.v1 import payment_events_pb2 as payment_ev
from zsb.events.v1 import preferences_events_pb2 as prefs_ev
from zsb.events.v1 import registration_events_pb2 as registration_ev
from zsb.preferences.v1 import preferences_pb2 as pb


@pytest.fixture
def send(kafka_bootstrap: str) -> Iterator:
    """Publish an event as its producing service's relay would: protobuf value, CloudEvents headers."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")

    def publish(service: str, candidate_no: str, message: Message, ce_id: str = "") -> str:
        ce_id = ce_id or str(uuid.uuid4())
        headers = build_headers(ce_id, message.DESCRIPTOR.full_name, service, datetime.now(UTC).isoformat(), "t")
        producer.send(topic_for(service), key=candidate_no.encode(), value=message.SerializeToString(), headers=headers)
        producer.flush()
        return ce_id

    yield publish
    producer.close()


def fresh_number() -> str:
    """Topics outlive test runs: each run's candidates must be new to them."""
    return f"211451{random.randrange(10**8):08d}"


def ts(minutes: int = 0) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes))
    return t


def status(prefs: Prefs, number: str) -> pb.GetStatusResponse:
    return prefs.stub.GetStatus(pb.GetStatusRequest(), metadata=prefs.candidate(number))


def missing(prefs: Prefs, number: str) -> list[str]:
    return list(status(prefs, number).eligibility.missing)


def confirm(send, number: str, poverty: bool = False) -> None:
    send(
        "registration",
        number,
        registration_ev.RegistrationConfirmed(
            candidate_no=number,
            name="李四",
            candidate_category="1",
            major_category="01",
            poverty_registered=poverty,
            city_code="01",
            point_code="0113",
            at=ts(),
        ),
    )


def test_eligibility_follows_the_events_and_a_refund_takes_it_away(prefs_kafka: Prefs, send) -> None:
    prefs = prefs_kafka
    number = fresh_number()
    assert not prefs.import_plan().errors
    prefs.open("jdlk")
    confirm(send, number, poverty=True)
    wait_until(lambda: "尚未完成报名信息确认" not in missing(prefs, number), what="RegistrationConfirmed")
    assert missing(prefs, number) == ["身份验证尚未通过", "报名费尚未缴纳", "报考资格审核尚未通过"]
    send("identity", number, identity_ev.IdentityVerified(candidate_no=number, verification_id="v1", at=ts()))
    send(
        "payment",
        number,
        payment_ev.PaymentSucceeded(candidate_no=number, order_no="P1", amount_fen=10000, paid_at=ts()),
    )
    send("registration", number, registration_ev.QualificationApproved(candidate_no=number, automatic=True, at=ts()))
    wait_until(lambda: status(prefs, number).eligibility.eligible, what="eligibility")
    assert status(prefs, number).eligibility.poverty_registered
    assert prefs.submit(choices(("10108", "01")), key(), number=number, batch="jdlk").version.number == 1
    # A second payment of the same fee is refunded: the registration's own payment still stands.
    extra = payment_ev.PaymentRefunded(candidate_no=number, order_no="P2", refund_no="R0", duplicate=True, at=ts())
    extra_id = send("payment", number, extra)
    wait_until(lambda: processed(prefs, [extra_id]), what="the duplicate's refund")
    assert status(prefs, number).eligibility.eligible
    send("payment", number, payment_ev.PaymentRefunded(candidate_no=number, order_no="P1", refund_no="R1", at=ts()))
    wait_until(lambda: missing(prefs, number) == ["报名费尚未缴纳"], what="PaymentRefunded")
    err = rpc_error(prefs.submit, choices(("10108", "01")), key(), number=number, batch="jdlk")
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and err.details() == "暂不能填报志愿：报名费尚未缴纳"


def test_a_later_decision_wins_whatever_the_arrival_order(prefs_kafka: Prefs, send) -> None:
    prefs = prefs_kafka
    number = fresh_number()
    confirm(send, number)
    sent = [
        # The reviewer's rejection (later) arrives before the earlier approval; so does the manual approval
        # of identity before the failed comparison it overrules.
        send(
            "registration",
            number,
            registration_ev.QualificationRejected(candidate_no=number, reason="材料不全", at=ts(5)),
        ),
        send("registration", number, registration_ev.QualificationApproved(candidate_no=number, at=ts(0))),
        send(
            "identity",
            number,
            identity_ev.IdentityManuallyApproved(candidate_no=number, verification_id="v1", at=ts(1)),
        ),
        send(
            "identity",
            number,
            identity_ev.IdentityVerificationFailed(candidate_no=number, verification_id="v1", at=ts(0)),
        ),
        send("payment", number, payment_ev.PaymentSucceeded(candidate_no=number, order_no="P9", paid_at=ts())),
    ]
    wait_until(lambda: processed(prefs, sent), what="all events handled")
    assert missing(prefs, number) == ["报考资格审核尚未通过"]


def test_abandoning_withdraws_submitted_preferences_once_even_when_redelivered(prefs_kafka: Prefs, send) -> None:
    prefs = prefs_kafka
    number = fresh_number()
    assert not prefs.import_plan().errors
    prefs.open("ordinary")
    confirm(send, number)
    send("identity", number, identity_ev.IdentityVerified(candidate_no=number, at=ts()))
    send("payment", number, payment_ev.PaymentSucceeded(candidate_no=number, order_no="P2", paid_at=ts()))
    send("registration", number, registration_ev.QualificationApproved(candidate_no=number, automatic=True, at=ts()))
    wait_until(lambda: status(prefs, number).eligibility.eligible, what="eligibility")
    prefs.submit(choices(("10108", "01")), key(), number=number)
    abandoned = registration_ev.RegistrationAbandoned(candidate_no=number, payment_made=True, at=ts())
    ce_id = send("registration", number, abandoned)
    wait_until(lambda: processed(prefs, [ce_id]), what="RegistrationAbandoned")
    send("registration", number, abandoned, ce_id=ce_id)  # the broker delivers it again
    # A handled event behind the duplicate on the same partition: once it is handled, so was the duplicate.
    after = send("registration", number, registration_ev.QualificationApproved(candidate_no=number, at=ts(-60)))
    wait_until(lambda: processed(prefs, [after]), what="the event after the duplicate")
    st = status(prefs, number)
    assert list(st.eligibility.missing) == ["已放弃报名"]
    ordinary = next(b for b in st.batches if b.batch.code == "ordinary")
    assert ordinary.withdrawn and ordinary.has_current
    with prefs.db.unit_of_work() as session:
        withdrawn = session.scalars(
            select(outbox.c.payload).where(
                outbox.c.ce_type == "zsb.events.v1.PreferencesWithdrawn", outbox.c.key == number
            )
        ).all()
    assert [(e.batch_code, e.version, e.reason) for e in map(prefs_ev.PreferencesWithdrawn.FromString, withdrawn)] == [
        ("ordinary", 1, "registration_abandoned")
    ]
    err = rpc_error(prefs.submit, choices(("10108", "01")), key(), number=number)
    assert err.details() == "暂不能填报志愿：已放弃报名"


def processed(prefs: Prefs, ce_ids: list[str]) -> bool:
    with prefs.db.unit_of_work() as session:
        found = session.scalar(select(func.count()).where(processed_events.c.ce_id.in_(ce_ids))) or 0
    return found == len(ce_ids)
