"""Payment as separate processes: the payment service (`python -m services.payment.main`, with its
jobs thread), the gateway under gunicorn, the provider sandbox, Kafka and MariaDB — wired the way
`make run` wires them (`services.payment.sandbox.local`)."""

from __future__ import annotations

import re
import uuid

import grpc
import pytest
import requests
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaConsumer, KafkaProducer

from services.payment.sandbox.testing import wait_until
from services.payment.tests.support import new_candidate_no
from tests.conftest import System
from zsb.common.clock import utcnow
from zsb.common.events import build_headers
from zsb.common.principal import Principal, Role, TokenSigner
from zsb.events.v1 import identity_events_pb2, payment_events_pb2, registration_events_pb2
from zsb.payment.v1 import payment_pb2 as pb
from zsb.payment.v1 import payment_pb2_grpc

pytestmark = pytest.mark.system


def now() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(utcnow())
    return ts


def publish(kafka_bootstrap: str, topic: str, service: str, key: str, message) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap.split(","), acks="all")
    headers = build_headers(str(uuid.uuid4()), message.DESCRIPTOR.full_name, service, utcnow().isoformat() + "Z", "sys")
    producer.send(topic, key=key.encode(), value=message.SerializeToString(), headers=headers).get(15)
    producer.close()


def make_eligible(system: System, kafka_bootstrap: str, candidate_no: str) -> None:
    confirmed = registration_events_pb2.RegistrationConfirmed(
        candidate_no=candidate_no, name="王五", candidate_category="1", city_code="01", point_code="0113", at=now()
    )
    publish(kafka_bootstrap, system.topic("registration"), "registration", candidate_no, confirmed)
    verified = identity_events_pb2.IdentityVerified(candidate_no=candidate_no, verification_id="v", at=now())
    publish(kafka_bootstrap, system.topic("identity"), "identity", candidate_no, verified)


def test_pay_through_the_processes_and_the_event_leaves_on_kafka(
    system: System, kafka_bootstrap: str, token_keys: dict[str, str]
) -> None:
    platform = system.platform
    signer = TokenSigner(token_keys["access_token_signing_key"])
    channel = grpc.insecure_channel(f"127.0.0.1:{platform.service_ports['payment']}")
    stub = payment_pb2_grpc.PaymentServiceStub(channel)

    def as_candidate(number: str) -> tuple:
        return (("authorization", "Bearer " + signer.sign(Principal(number, Role.CANDIDATE, "01", "0113"))),)

    def overview(number: str) -> pb.PaymentOverview:
        return stub.GetPayment(pb.GetPaymentRequest(candidate_no=number), metadata=as_candidate(number))

    notified, silent = new_candidate_no(), new_candidate_no()
    for number in (notified, silent):
        make_eligible(system, kafka_bootstrap, number)
    wait_until(lambda: overview(notified).can_pay and overview(silent).can_pay, timeout=120)

    # Paid on the WeChat pay page: the sandbox notifies the gunicorn gateway's public callback.
    order = stub.StartPayment(
        pb.StartPaymentRequest(candidate_no=notified, provider="wechat"), metadata=as_candidate(notified)
    )
    page = requests.get(order.action.url, timeout=10)
    requests.post(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1), timeout=10)
    wait_until(lambda: overview(notified).status == "paid", timeout=60)

    # Paid with no notification at all: the service's jobs thread finds it with a verified query.
    quiet = stub.StartPayment(
        pb.StartPaymentRequest(candidate_no=silent, provider="alipay"), metadata=as_candidate(silent)
    )
    requests.get(quiet.action.url, timeout=10)  # the cashier opens: the trade exists at Alipay
    sandbox = next(p for p in platform.procs.values() if p.name == "payment-sandbox")
    base = sandbox.ready_check.removesuffix("/_sandbox/health")
    body = {"provider": "alipay", "out_trade_no": quiet.order_no, "notify": False}
    assert requests.post(f"{base}/_sandbox/pay", json=body, timeout=10).status_code == 200
    wait_until(lambda: overview(silent).status == "paid", timeout=60)
    assert overview(silent).paid.paid_via == "query"

    # Both PaymentSucceeded events are on the payment topic, keyed by 考生号.
    consumer = KafkaConsumer(
        system.topic("payment"),
        bootstrap_servers=kafka_bootstrap.split(","),
        group_id=f"sys-check-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        metadata_max_age_ms=1000,
    )
    seen: dict[str, payment_events_pb2.PaymentSucceeded] = {}

    def drain() -> bool:
        for record in consumer:
            ce_type = dict(record.headers).get("ce_type", b"").decode()
            if record.key and record.key.decode() in (notified, silent) and ce_type.endswith("PaymentSucceeded"):
                event = payment_events_pb2.PaymentSucceeded()
                event.ParseFromString(record.value)
                seen[event.candidate_no] = event
        return len(seen) == 2

    wait_until(drain, timeout=60, interval=0.1)
    consumer.close()
    channel.close()
    assert seen[notified].order_no == order.order_no and seen[silent].order_no == quiet.order_no
    assert seen[notified].amount_fen == seen[silent].amount_fen == 15000
