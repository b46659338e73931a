"""Every notification that must not pay: rejected with the provider's failure reply, logged at
ERROR, alerted, never paid. Sent over HTTP to the gateway's public callback, as a provider would."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from services.payment.providers.base import Provider
from services.payment.sandbox.keys import SandboxKeys
from services.payment.sandbox.testing import SandboxProcess
from services.payment.service.settlement import aware
from services.payment.tests import forge
from services.payment.tests.support import PROVIDERS, Stack, new_candidate_no, payment_stack
from zsb.payment.v1 import payment_pb2 as pb

ME = new_candidate_no()
ATTACKER = "203.0.113.7"  # the notification's source as the gateway saw it


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture(scope="module")
def keys(sandbox: SandboxProcess) -> SandboxKeys:
    return SandboxKeys.load_or_create(sandbox.state_dir)


@pytest.fixture
def stack(service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer) -> Iterator[Stack]:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer) as s:
        s.eligible(ME)
        yield s


def post(stack: Stack, provider: str, request: forge.Request) -> requests.Response:
    headers, body = request
    return requests.post(f"{stack.front.url}/payment/notify/{provider}", data=body, headers=headers, timeout=20)


def genuine_for(stack: Stack, provider: str, **changes: object) -> forge.Payment:
    order = stack.start(ME, provider)
    created = aware(stack.order(order.order_no).created_at)
    return replace(forge.Payment(provider, order.order_no, 15000, created), **changes)  # type: ignore[arg-type]


CASES = {
    # case: (how the notification is made, the alert it raises)
    "forged": ("tampered after signing", "notification_forged_signature"),
    "wrong_amount": ("genuinely signed, 0.01 yuan", "notification_amount_mismatch"),
    "wrong_merchant": ("genuinely signed, another merchant", "notification_wrong_merchant"),
    "unknown_order": ("genuinely signed, an order we never made", "notification_unknown_order"),
    "stale": ("genuinely signed long ago", "notification_stale"),
}
OTHER_MERCHANT = {"wechat": "1900000999", "alipay": "2021000199999999", "unionpay": "777290058999999"}
# A replay is stale where the protocol signs a time: WeChat (300 s window), Alipay (25 h retry span).
STALE_AGE = {"wechat": 600, "alipay": 26 * 3600}


def make(case: str, stack: Stack, keys: SandboxKeys, provider: str) -> tuple[forge.Request, str]:
    payment = genuine_for(stack, provider)
    if case == "forged":
        return forge.forged(forge.genuine(keys, payment), provider), payment.order_no
    if case == "wrong_amount":
        return forge.genuine(keys, replace(payment, amount_fen=1)), payment.order_no
    if case == "wrong_merchant":
        return forge.genuine(keys, replace(payment, merchant=OTHER_MERCHANT[provider])), payment.order_no
    if case == "unknown_order":
        return forge.genuine(keys, replace(payment, order_no="ZSB20260101NEVERMADE01")), payment.order_no
    return forge.genuine(keys, replace(payment, age_seconds=STALE_AGE[provider])), payment.order_no


@pytest.mark.parametrize(
    ("provider", "case"),
    [(p, c) for p in PROVIDERS for c in CASES if not (c == "stale" and p == "unionpay")],
)
def test_rejected_logged_alerted_never_paid(
    provider: str, case: str, stack: Stack, keys: SandboxKeys, caplog: pytest.LogCaptureFixture
) -> None:
    request, order_no = make(case, stack, keys, provider)
    with caplog.at_level(logging.ERROR, logger="payment.alerts"):
        reply = post(stack, provider, request)

    failure = stack.app.deps.clients[Provider(provider)].failure_reply()
    assert reply.status_code == failure.status
    if provider != "wechat":  # WeChat's failure body carries the reason in its message
        assert reply.content == failure.body
    else:
        assert reply.json()["code"] == "FAIL"
    kind = CASES[case][1]
    [alert] = stack.alerts()
    assert alert.kind == kind and alert.provider == provider
    assert any(r.levelname == "ERROR" and getattr(r, "alert", "") == kind for r in caplog.records)
    assert stack.order(order_no).state == "paying"
    assert stack.events("PaymentSucceeded") == []
    assert stack.candidate_row(ME).paid_order_no is None


def test_the_gateway_passes_the_source_address(stack: Stack, keys: SandboxKeys) -> None:
    payment = genuine_for(stack, "alipay")
    headers, body = forge.forged(forge.genuine(keys, payment), "alipay")
    requests.post(
        f"{stack.front.url}/payment/notify/alipay",
        data=body,
        headers={**headers, "Cookie": "zsb_session=x"},
        timeout=20,
    )
    [alert] = stack.alerts()
    assert alert.remote_addr == "127.0.0.1"
    assert alert.order_no == ""  # nothing of an unverified message is taken as fact


def test_garbage_and_unknown_providers(stack: Stack) -> None:
    assert requests.post(f"{stack.front.url}/payment/notify/paypal", data=b"x=1", timeout=10).status_code == 404
    assert requests.get(f"{stack.front.url}/payment/notify/wechat", timeout=10).status_code == 405
    reply = requests.post(f"{stack.front.url}/payment/notify/unionpay", data=b"\xff\xfe", timeout=10)
    assert (reply.status_code, reply.content) == (500, b"fail")
    reply = requests.post(f"{stack.front.url}/payment/notify/alipay", data=b"a" * (70 * 1024), timeout=10)
    assert reply.status_code == 413
    # The gRPC method refuses an unknown provider the same way.
    answer = stack.stub.HandleNotification(pb.ProviderNotification(provider="paypal", body=b"x"))
    assert answer.status == 404
    assert [a.kind for a in stack.alerts()] == ["notification_malformed", "unknown_provider"]


def test_a_replayed_unionpay_notification_pays_nothing_more(
    stack: Stack, keys: SandboxKeys, sandbox: SandboxProcess
) -> None:
    """UnionPay signs no time: an old genuine notification replayed later is the same fact again."""
    order = stack.start(ME, "unionpay")
    stack.open_cashier(order)
    trade_no = sandbox.pay("unionpay", order.order_no, notify=False).json()["trade_no"]
    created = aware(stack.order(order.order_no).created_at)
    payment = forge.Payment("unionpay", order.order_no, 15000, created, trade_no=trade_no)
    request = forge.genuine(keys, payment)
    assert post(stack, "unionpay", request).status_code == 200
    assert post(stack, "unionpay", request).status_code == 200
    assert stack.order(payment.order_no).state == "paid" and len(stack.events("PaymentSucceeded")) == 1
    # Even once the money went back, replaying the payment does not make it paid again.
    stack.abandon(ME)
    stack.run_jobs_until(lambda: stack.order(payment.order_no).state == "refunded")
    assert post(stack, "unionpay", request).status_code == 200
    assert stack.order(payment.order_no).state == "refunded"
    assert len(stack.events("PaymentSucceeded")) == 1 and len(stack.events("PaymentRefunded")) == 1


def test_a_second_transaction_for_a_paid_order_is_alerted(stack: Stack, keys: SandboxKeys) -> None:
    payment = genuine_for(stack, "wechat", trade_no="4200000000000000000001")
    post(stack, "wechat", forge.genuine(keys, payment))
    reply = post(stack, "wechat", forge.genuine(keys, replace(payment, trade_no="4200000000000000000002")))
    assert reply.status_code == 204  # handled: nothing more to do, and staff are told
    assert stack.order(payment.order_no).provider_trade_no == "4200000000000000000001"
    assert [a.kind for a in stack.alerts()] == ["conflicting_transaction"]
    assert len(stack.events("PaymentSucceeded")) == 1
