"""Each provider's whole flow against the sandbox process, through our real provider clients.

Real processes on loopback and real cryptography: the sandbox verifies our signed requests, we
verify its signed answers and notifications. The receiver plays our notify endpoint.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from services.payment.providers import build_clients
from services.payment.providers.base import (
    CST,
    CloseOutcome,
    NotificationKind,
    PaymentRequest,
    Provider,
    ProviderClient,
    RefundRequest,
    RefundStatus,
    TradeStatus,
    UnknownOrder,
    utc_now,
)
from services.payment.sandbox.testing import NotifyReceiver, SandboxProcess, wait_until

PROVIDERS = ["wechat", "alipay", "unionpay"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture(scope="module")
def clients(sandbox: SandboxProcess) -> dict[Provider, ProviderClient]:
    return build_clients(sandbox.settings())


@pytest.fixture
def receiver(clients: dict[Provider, ProviderClient]) -> Iterator[NotifyReceiver]:
    with NotifyReceiver(clients) as rx:
        yield rx


@dataclass
class Attempt:
    provider: str
    out_trade_no: str
    amount_fen: int
    created_at: datetime
    cashier: requests.Response  # the pay page as the payer's browser got it


def new_no(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def open_cashier(
    client: ProviderClient, receiver: NotifyReceiver, provider: str, amount_fen: int = 15000, register: bool = True
) -> Attempt:
    """Create the provider order and open its pay page the way the candidate's browser would."""
    out_trade_no, now = new_no("P"), utc_now()
    if register:
        receiver.orders[(provider, out_trade_no)] = amount_fen
    request = PaymentRequest(
        out_trade_no, amount_fen, "山西专升本报名考试费", receiver.url(provider), now + timedelta(minutes=30), now
    )
    action = client.create_payment(request)
    if action.kind == "form":
        page = requests.post(action.url, data=dict(action.form_fields), timeout=10)
    else:  # the QR target (code_url / qr_code) or the page-pay redirect
        page = requests.get(action.url, timeout=10)
    assert page.status_code == 200, page.text
    assert "支付" in page.text and f"¥{amount_fen // 100}.{amount_fen % 100:02d}" in page.text
    return Attempt(provider, out_trade_no, amount_fen, now, page)


def press_pay(attempt: Attempt) -> requests.Response:
    """The '支付' button of the sandbox's pay page."""
    action = re.search(r'<form method="post" action="([^"]+)"', attempt.cashier.text)
    assert action, attempt.cashier.text
    return requests.post(action.group(1), timeout=10)


def paid_notifications(receiver: NotifyReceiver, attempt: Attempt) -> list:
    return [
        r
        for r in receiver.for_order(attempt.provider, attempt.out_trade_no)
        if r.notification and r.notification.kind is NotificationKind.PAYMENT and r.rejection is None
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_pay_notify_and_query_agree(
    provider: str, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider, amount_fen=15050)
    assert client.query(attempt.out_trade_no, created_at=attempt.created_at).status is TradeStatus.NOT_PAID

    assert press_pay(attempt).status_code == 200

    record = wait_until(lambda: paid_notifications(receiver, attempt))[0]
    notification = record.notification
    assert notification.status is TradeStatus.PAID
    assert notification.amount_fen == 15050
    assert record.status == client.success_reply().status
    queried = client.query(attempt.out_trade_no, created_at=attempt.created_at)
    assert queried.status is TradeStatus.PAID
    assert queried.amount_fen == 15050
    assert queried.provider_trade_no == notification.provider_trade_no != ""
    assert len(receiver.handled) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_failure_replies_are_retried_until_success(
    provider: str, sandbox: SandboxProcess, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    receiver.fail_next[provider] = 2
    attempt = open_cashier(client, receiver, provider)
    press_pay(attempt)

    delivery = wait_until(lambda: [d for d in sandbox.deliveries(provider, attempt.out_trade_no) if d["done"]])[0]
    assert [a["ok"] for a in delivery["attempts"]] == [False, False, True]
    failure = client.failure_reply()
    assert [a["status"] for a in delivery["attempts"][:2]] == [failure.status, failure.status]
    # Three receipts of one fact: handled once.
    assert len([r for r in receiver.received if r.provider == provider]) == 3
    assert len(receiver.handled) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicate_notification_is_handled_once(
    provider: str, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider)
    press_pay(attempt)
    record = wait_until(lambda: paid_notifications(receiver, attempt))[0]

    status, _, body = receiver.handle(provider, record.headers, record.body)  # the same notification again

    assert (status, body) == (client.success_reply().status, client.success_reply().body)
    assert list(receiver.handled) == [record.notification.dedup_key]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_order_is_rejected_and_retried(
    provider: str, sandbox: SandboxProcess, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider, register=False)
    press_pay(attempt)

    wait_until(lambda: len(sandbox.deliveries(provider, attempt.out_trade_no)[0]["attempts"]) >= 2)
    rejected = [r for r in receiver.received if r.notification and r.notification.out_trade_no == attempt.out_trade_no]
    assert rejected and all(isinstance(r.rejection, UnknownOrder) for r in rejected)
    assert all(r.status == client.failure_reply().status for r in rejected)
    assert receiver.handled == {}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refund_is_notified_and_queried(
    provider: str, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider, amount_fen=12000)
    press_pay(attempt)
    paid = wait_until(lambda: paid_notifications(receiver, attempt))[0].notification
    out_refund_no, requested_at = new_no("R"), utc_now()
    receiver.refunds[(provider, out_refund_no)] = 12000

    result = client.refund(
        RefundRequest(
            attempt.out_trade_no,
            paid.provider_trade_no,
            out_refund_no,
            12000,
            12000,
            "放弃报名",
            receiver.url(provider),
            requested_at,
        )
    )
    assert result.refund.status in (RefundStatus.PROCESSING, RefundStatus.SUCCESS)

    def refund_notification() -> list:
        return [
            r
            for r in receiver.for_order(provider, attempt.out_trade_no)
            if r.notification.kind is NotificationKind.REFUND and r.rejection is None
        ]

    notification = wait_until(refund_notification)[0].notification
    assert notification.refund.out_refund_no == out_refund_no
    assert notification.refund.refund_fen == 12000
    assert notification.refund.status is RefundStatus.SUCCESS
    queried = client.query_refund(out_refund_no, out_trade_no=attempt.out_trade_no, requested_at=requested_at)
    assert queried.refund.status is RefundStatus.SUCCESS
    assert queried.refund.refund_fen == 12000
    # Asking again with the same refund number refunds nothing more.
    again = client.refund(
        RefundRequest(
            attempt.out_trade_no,
            paid.provider_trade_no,
            out_refund_no,
            12000,
            12000,
            "放弃报名",
            receiver.url(provider),
            requested_at,
        )
    )
    assert again.refund.out_refund_no == out_refund_no
    statuses = {k: n for k, n in receiver.handled.items() if n.kind is NotificationKind.REFUND}
    assert len(statuses) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_statement_lists_payments_and_refunds(
    provider: str, sandbox: SandboxProcess, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider, amount_fen=9999)
    press_pay(attempt)
    paid = wait_until(lambda: paid_notifications(receiver, attempt))[0].notification
    # A payment the provider has but our side never heard of: the statement must show it.
    silent = open_cashier(client, receiver, provider, amount_fen=501)
    assert sandbox.pay(provider, silent.out_trade_no, notify=False).status_code == 200
    out_refund_no, requested_at = new_no("R"), utc_now()
    client.refund(
        RefundRequest(
            attempt.out_trade_no, paid.provider_trade_no, out_refund_no, 1234, 9999, "部分退款", "", requested_at
        )
    )
    wait_until(
        lambda: client.query_refund(
            out_refund_no, out_trade_no=attempt.out_trade_no, requested_at=requested_at
        ).refund.status
        is RefundStatus.SUCCESS
    )

    statement = client.download_statement(utc_now().astimezone(CST).date())

    mine = {(e.kind, e.out_trade_no, e.out_refund_no): e for e in statement.entries}
    payment = mine[(NotificationKind.PAYMENT, attempt.out_trade_no, "")]
    assert payment.amount_fen == 9999 and payment.provider_trade_no == paid.provider_trade_no
    assert mine[(NotificationKind.PAYMENT, silent.out_trade_no, "")].amount_fen == 501
    assert mine[(NotificationKind.REFUND, attempt.out_trade_no, out_refund_no)].amount_fen == 1234
    assert statement.raw and list((sandbox.state_dir / "statements" / provider).iterdir())


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_closed_order_cannot_be_paid(
    provider: str, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider)

    assert client.close(attempt.out_trade_no) is CloseOutcome.CLOSED

    assert press_pay(attempt).status_code == 409
    assert client.query(attempt.out_trade_no).status is TradeStatus.CLOSED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_close_after_payment_reports_paid(
    provider: str, clients: dict[Provider, ProviderClient], receiver: NotifyReceiver
) -> None:
    client = clients[Provider(provider)]
    attempt = open_cashier(client, receiver, provider)
    press_pay(attempt)

    assert client.close(attempt.out_trade_no, created_at=attempt.created_at) is CloseOutcome.ALREADY_PAID


def test_unionpay_order_lapses_at_its_timeout(
    clients: dict[Provider, ProviderClient], receiver: NotifyReceiver, sandbox: SandboxProcess
) -> None:
    client = clients[Provider.UNIONPAY]
    out_trade_no, now = new_no("P"), utc_now()
    request = PaymentRequest(
        out_trade_no, 100, "报名费", receiver.url("unionpay"), now + timedelta(seconds=1), now - timedelta(seconds=5)
    )
    action = client.create_payment(request)
    assert requests.post(action.url, data=dict(action.form_fields), timeout=10).status_code == 200
    wait_until(lambda: utc_now() > request.expires_at)

    assert sandbox.pay("unionpay", out_trade_no).status_code == 409
    assert client.close(out_trade_no, created_at=request.created_at) is CloseOutcome.CLOSED
    assert client.query(out_trade_no, created_at=request.created_at).status is TradeStatus.CLOSED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_order_queries_as_not_found(provider: str, clients: dict[Provider, ProviderClient]) -> None:
    client = clients[Provider(provider)]
    assert client.query(new_no("X"), created_at=utc_now()).status is TradeStatus.NOT_FOUND


def test_sandbox_refuses_requests_signed_with_another_key(sandbox: SandboxProcess, tmp_path: Path) -> None:
    """The sandbox checks our signatures: a client holding the wrong merchant key is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from services.payment.providers.base import ProviderRequestRejected

    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    settings = sandbox.settings(wechat_merchant_key_file=str(wrong), alipay_app_private_key_file=str(wrong))
    clients = build_clients(settings)
    for provider in (Provider.WECHAT, Provider.ALIPAY):
        with pytest.raises(ProviderRequestRejected) as refused:
            clients[provider].query(new_no("X"))
        assert refused.value.code in ("SIGN_ERROR", "isv.invalid-signature")
