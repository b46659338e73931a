"""The payment service end to end against the sandbox process, on MariaDB (and SQLite for the main flow).

Notifications take the production path: sandbox → HTTP → the gateway's public callback →
gRPC HandleNotification → the service. The jobs are driven by the tests (`run_once`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update

from services.payment.adapters.tables import AuditRow, NotificationRow, OrderRow
from services.payment.providers import build_client
from services.payment.providers.base import Provider, utc_now
from services.payment.sandbox.keys import SandboxKeys
from services.payment.sandbox.testing import SandboxProcess, wait_until
from services.payment.service.settlement import aware
from services.payment.tests import forge
from services.payment.tests.support import PROVIDERS, Stack, new_candidate_no, payment_stack
from zsb.payment.v1 import payment_pb2 as pb

ME = new_candidate_no("0113")  # city 01
OTHER = new_candidate_no("0113")
ELSEWHERE = new_candidate_no("0201")  # city 02
ACTION_KINDS = {"wechat": "qr", "alipay": "redirect", "unionpay": "form"}


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
        yield s


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value


def overview(stack: Stack, candidate_no: str = ME) -> pb.PaymentOverview:
    return stack.stub.GetPayment(
        pb.GetPaymentRequest(candidate_no=candidate_no), metadata=stack.candidate(candidate_no)
    )


# ---------------------------------------------------------------- the whole flow


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("db", ["sqlite", "mariadb"])
def test_pay_with_each_provider(
    provider: str, db: str, request: pytest.FixtureRequest, service_settings, sandbox: SandboxProcess, bearer
) -> None:
    url = request.getfixturevalue(f"{db}_url")
    with payment_stack(service_settings, url, sandbox, bearer) as stack:
        stack.eligible(ME)
        before = overview(stack)
        assert before.can_pay and before.amount_fen == 15000 and before.category_name == "普通类"
        assert before.status == "unpaid" and list(before.providers) == PROVIDERS

        order = stack.start(ME, provider)
        assert order.state == "paying" and order.amount_fen == 15000 and order.action.kind == ACTION_KINDS[provider]
        if provider == "unionpay":
            assert order.action.form_fields["orderId"] == order.order_no
            assert order.action.form_fields["backUrl"] == f"{stack.front.url}/payment/notify/unionpay"
        assert overview(stack).status == "paying"
        assert stack.press_pay(stack.open_cashier(order)).status_code == 200

        paid = stack.wait_state(order.order_no, "paid")
        assert paid.paid_via == "notify" and paid.provider_trade_no and paid.paid_at is not None
        [event] = stack.events("PaymentSucceeded", ME)
        assert (event.order_no, event.provider, event.amount_fen, event.category_code) == (
            order.order_no,
            provider,
            15000,
            "1",
        )
        assert event.provider_txn_id == paid.provider_trade_no
        after = overview(stack)
        assert after.status == "paid" and after.paid.order_no == order.order_no and not after.can_pay
        assert stack.candidate_row(ME).paid_order_no == order.order_no
        # Our reply was the provider's documented success: it stopped retrying at the first one.
        [delivery] = sandbox.deliveries(provider, order.order_no)
        assert delivery["done"] and [a["ok"] for a in delivery["attempts"]].count(True) == 1
        success = stack.app.deps.clients[Provider(provider)].success_reply()
        assert delivery["attempts"][-1]["status"] == success.status and delivery["attempts"][-1]["ok"]
        # Paying again is refused.
        again = rpc_error(stack.start, ME, provider)
        assert again.code() == grpc.StatusCode.FAILED_PRECONDITION and "无需重复支付" in again.details()


def test_payment_needs_confirmation_and_identity(stack: Stack) -> None:
    assert overview(stack).blocked_reason == "请先完成“信息确认”"
    stack.eligible(ME, identity=False)
    view = overview(stack)
    assert not view.can_pay and view.blocked_reason == "请先完成“身份认证”"
    refused = rpc_error(stack.start, ME, "wechat")
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(refused.trailing_metadata())["x-error-reason"] == "IDENTITY_NOT_VERIFIED"
    stack.eligible(ME)
    assert overview(stack).can_pay
    unknown = rpc_error(stack.start, ME, "paypal")
    assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT and unknown.details() == "不支持该支付方式"


def test_a_category_without_a_fee_cannot_pay(stack: Stack) -> None:
    stack.eligible(ME, category="9")
    view = overview(stack)
    assert not view.can_pay and "尚未设置" in view.blocked_reason
    assert rpc_error(stack.start, ME, "wechat").code() == grpc.StatusCode.FAILED_PRECONDITION


def test_only_the_candidate_themself(stack: Stack) -> None:
    stack.eligible(ME)
    stack.eligible(OTHER)
    mine = stack.start(ME, "wechat")
    # Someone else's registration, order or overview: refused.
    other_start = pb.StartPaymentRequest(candidate_no=ME, provider="wechat")
    denied = rpc_error(stack.stub.StartPayment, other_start, metadata=stack.candidate(OTHER))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    check = pb.CheckPaymentRequest(candidate_no=OTHER, order_no=mine.order_no, ask_provider=True)
    assert (
        rpc_error(stack.stub.CheckPayment, check, metadata=stack.candidate(OTHER)).code() == grpc.StatusCode.NOT_FOUND
    )
    peek = pb.GetPaymentRequest(candidate_no=ME)
    assert (
        rpc_error(stack.stub.GetPayment, peek, metadata=stack.candidate(OTHER)).code()
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert rpc_error(stack.stub.GetPayment, peek, metadata=stack.province()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(stack.stub.GetPayment, peek).code() == grpc.StatusCode.UNAUTHENTICATED
    assert stack.order(mine.order_no).state == "paying"


def test_same_method_again_shows_the_same_order(stack: Stack) -> None:
    stack.eligible(ME)
    first = stack.start(ME, "wechat")
    second = stack.start(ME, "wechat")
    assert second.order_no == first.order_no and second.action.url == first.action.url


# ---------------------------------------------------------------- new attempts


def test_switching_method_closes_the_old_order_and_keeps_it(stack: Stack, sandbox: SandboxProcess) -> None:
    stack.eligible(ME)
    old = stack.start(ME, "wechat")
    cashier = stack.open_cashier(old)
    new = stack.start(ME, "alipay")
    assert new.order_no != old.order_no
    closed = stack.order(old.order_no)
    assert closed.state == "closed" and closed.end_reason == "已重新发起支付"
    assert stack.press_pay(cashier).status_code == 409  # closed at WeChat: it can no longer be paid
    assert stack.press_pay(stack.open_cashier(new)).status_code == 200
    stack.wait_state(new.order_no, "paid")
    view = overview(stack)
    assert [o.order_no for o in view.orders] == [new.order_no, old.order_no]
    assert [o.state for o in view.orders] == ["paid", "closed"]
    assert stack.events("PaymentFailed") == []  # a superseded order is no failure of the registration


def test_a_late_payment_of_a_superseded_order_is_refunded(stack: Stack, sandbox: SandboxProcess) -> None:
    """UnionPay orders cannot be closed: the old one stays payable until it lapses. If the
    candidate pays both, the second is real money: recorded, flagged, refunded, never a 2nd success."""
    stack.eligible(ME)
    old = stack.start(ME, "unionpay")
    old_cashier = stack.open_cashier(old)
    new = stack.start(ME, "wechat")
    assert stack.order(old.order_no).state == "closing"
    stack.press_pay(stack.open_cashier(new))
    stack.wait_state(new.order_no, "paid")
    assert stack.press_pay(old_cashier).status_code == 200

    late = stack.wait_state(old.order_no, "refunding")
    assert late.duplicate
    [refund] = stack.refunds(ME)
    assert (refund.order_no, refund.reason, refund.duplicate, refund.amount_fen) == (
        old.order_no,
        "重复支付",
        True,
        15000,
    )
    assert [a.kind for a in stack.alerts()] == ["duplicate_payment"]
    stack.run_jobs_until(lambda: stack.order(old.order_no).state == "refunded")
    [refunded] = stack.events("PaymentRefunded", ME)
    assert refunded.duplicate and refunded.order_no == old.order_no and refunded.amount_fen == 15000
    assert len(stack.events("PaymentSucceeded", ME)) == 1
    assert stack.candidate_row(ME).paid_order_no == new.order_no
    assert overview(stack).status == "paid"


# ---------------------------------------------------------------- expiry and queries


@pytest.mark.parametrize("provider", PROVIDERS)
def test_expired_order_is_closed_at_the_provider(
    provider: str, service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer
) -> None:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer, order_ttl_seconds=2) as stack:
        stack.eligible(ME)
        order = stack.start(ME, provider)
        cashier = stack.open_cashier(order)
        expires = aware(stack.order(order.order_no).expires_at)
        wait_until(lambda: utc_now() > expires + timedelta(seconds=1))
        stack.run_jobs_until(lambda: stack.order(order.order_no).state == "closed")
        assert stack.order(order.order_no).end_reason == "支付超时，订单已关闭"
        [failed] = stack.events("PaymentFailed", ME)
        assert failed.order_no == order.order_no and failed.reason == "支付超时，订单已关闭"
        assert stack.press_pay(cashier).status_code == 409
        view = overview(stack)
        assert view.can_pay and not view.HasField("current") and view.status == "unpaid"
        # A new attempt is a new provider order; the old one stays in the history.
        again = stack.start(ME, provider)
        assert again.order_no != order.order_no and len(overview(stack).orders) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_query_settles_a_payment_whose_notification_never_came(
    provider: str, stack: Stack, sandbox: SandboxProcess
) -> None:
    stack.eligible(ME)
    order = stack.start(ME, provider)
    stack.open_cashier(order)
    assert sandbox.pay(provider, order.order_no, notify=False).status_code == 200

    stack.run_jobs_until(lambda: stack.order(order.order_no).state == "paid")
    assert stack.order(order.order_no).paid_via == "query"
    assert len(stack.events("PaymentSucceeded", ME)) == 1


def test_the_pages_check_asks_the_provider(stack: Stack, sandbox: SandboxProcess) -> None:
    stack.eligible(ME)
    order = stack.start(ME, "alipay")
    stack.open_cashier(order)
    sandbox.pay("alipay", order.order_no, notify=False)
    ask = pb.CheckPaymentRequest(candidate_no=ME, order_no=order.order_no, ask_provider=False)
    assert stack.stub.CheckPayment(ask, metadata=stack.candidate(ME)).order.state == "paying"
    ask.ask_provider = True
    answer = stack.stub.CheckPayment(ask, metadata=stack.candidate(ME))
    assert answer.order.state == "paid" and answer.status == "paid" and answer.status_label == "已支付"


def test_callback_down_the_query_pays_and_the_late_notification_changes_nothing(
    stack: Stack, sandbox: SandboxProcess
) -> None:
    stack.eligible(ME)
    order = stack.start(ME, "wechat")
    gateway = stack.front.app

    def down(environ, start_response):
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]

    stack.front.app = down
    stack.press_pay(stack.open_cashier(order))
    wait_until(lambda: sandbox.deliveries("wechat", order.order_no))
    stack.run_jobs_until(lambda: stack.order(order.order_no).state == "paid")
    stack.front.app = gateway
    wait_until(lambda: sandbox.deliveries("wechat", order.order_no)[0]["done"])
    assert len(stack.events("PaymentSucceeded", ME)) == 1
    with stack.app.deps.db.unit_of_work() as session:
        outcomes = session.scalars(
            select(NotificationRow.outcome).where(NotificationRow.order_no == order.order_no)
        ).all()
    assert outcomes == ["duplicate"]


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_notification_racing_queries_pays_once(
    provider: str, stack: Stack, sandbox: SandboxProcess, keys: SandboxKeys
) -> None:
    stack.eligible(ME)
    order = stack.start(ME, provider)
    stack.open_cashier(order)
    trade_no = sandbox.pay(provider, order.order_no, notify=False).json()["trade_no"]
    headers, body = forge.genuine(
        keys,
        forge.Payment(
            provider, order.order_no, 15000, aware(stack.order(order.order_no).created_at), trade_no=trade_no
        ),
    )
    notification = pb.ProviderNotification(provider=provider, headers=headers, body=body)
    start = threading.Barrier(8)
    replies, errors = [], []

    def notify() -> None:
        start.wait()
        try:
            replies.append(stack.stub.HandleNotification(notification).status)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def query() -> None:
        start.wait()
        try:
            stack.app.orders.check(order.order_no)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=t) for t in [notify] * 4 + [query] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    success = stack.app.deps.clients[Provider(provider)].success_reply().status
    assert replies == [success] * 4
    paid = stack.order(order.order_no)
    assert paid.state == "paid" and paid.provider_trade_no == trade_no
    assert len(stack.events("PaymentSucceeded", ME)) == 1
    assert stack.refunds(ME) == [] and stack.alerts() == []


# ---------------------------------------------------------------- duplicates and order of arrival


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_same_notification_twice_pays_once(provider: str, stack: Stack, keys: SandboxKeys) -> None:
    stack.eligible(ME)
    order = stack.start(ME, provider)
    created = aware(stack.order(order.order_no).created_at)
    headers, body = forge.genuine(keys, forge.Payment(provider, order.order_no, 15000, created))
    message = pb.ProviderNotification(provider=provider, headers=headers, body=body)
    success = stack.app.deps.clients[Provider(provider)].success_reply()
    for _ in range(2):
        reply = stack.stub.HandleNotification(message)
        assert (reply.status, reply.body) == (success.status, success.body)
    assert len(stack.events("PaymentSucceeded", ME)) == 1
    with stack.app.deps.db.unit_of_work() as session:
        outcomes = session.scalars(select(NotificationRow.outcome).order_by(NotificationRow.id)).all()
    assert outcomes == ["handled", "duplicate"]


def test_a_closed_notification_after_payment_changes_nothing(stack: Stack, keys: SandboxKeys) -> None:
    stack.eligible(ME)
    order = stack.start(ME, "alipay")
    created = aware(stack.order(order.order_no).created_at)
    paid = forge.genuine(keys, forge.Payment("alipay", order.order_no, 15000, created, trade_no="2024000001"))
    closed = forge.genuine(keys, forge.Payment("alipay", order.order_no, 15000, created, closed=True))
    for headers, body in (paid, closed):
        stack.stub.HandleNotification(pb.ProviderNotification(provider="alipay", headers=headers, body=body))
    assert stack.order(order.order_no).state == "paid"
    assert stack.events("PaymentFailed") == [] and len(stack.events("PaymentSucceeded")) == 1


def test_a_payment_of_an_order_we_closed_is_still_the_payment(stack: Stack, keys: SandboxKeys) -> None:
    """The provider's verified fact beats our belief: e.g. paid in the second we closed it."""
    stack.eligible(ME)
    order = stack.start(ME, "wechat")
    with stack.app.deps.db.unit_of_work() as session:
        session.execute(update(OrderRow).where(OrderRow.order_no == order.order_no).values(state="closed"))
    created = aware(stack.order(order.order_no).created_at)
    headers, body = forge.genuine(keys, forge.Payment("wechat", order.order_no, 15000, created))
    assert (
        stack.stub.HandleNotification(pb.ProviderNotification(provider="wechat", headers=headers, body=body)).status
        == 204
    )
    assert stack.order(order.order_no).state == "paid"
    assert [e.order_no for e in stack.events("PaymentSucceeded", ME)] == [order.order_no]


def test_refund_notification_before_the_refund_answer_settles_it(stack: Stack, keys: SandboxKeys) -> None:
    stack.eligible(ME)
    order = stack.start(ME, "wechat")
    created = aware(stack.order(order.order_no).created_at)
    headers, body = forge.genuine(keys, forge.Payment("wechat", order.order_no, 15000, created, trade_no="4200000009"))
    stack.stub.HandleNotification(pb.ProviderNotification(provider="wechat", headers=headers, body=body))
    stack.abandon(ME)
    [refund] = stack.refunds(ME)
    assert refund.state == "requested"  # not yet sent to the provider
    headers, body = forge.genuine_refund(
        keys, forge.Refund("wechat", order.order_no, refund.refund_no, 15000, "4200000009", aware(refund.requested_at))
    )
    stack.stub.HandleNotification(pb.ProviderNotification(provider="wechat", headers=headers, body=body))
    assert stack.order(order.order_no).state == "refunded"
    [event] = stack.events("PaymentRefunded", ME)
    assert event.refund_no == refund.refund_no and not event.duplicate and event.reason == "放弃报名"


# ---------------------------------------------------------------- abandonment and refunds


@pytest.mark.parametrize("provider", PROVIDERS)
def test_abandoning_a_paid_registration_refunds_it(provider: str, stack: Stack, sandbox: SandboxProcess) -> None:
    stack.eligible(ME)
    order = stack.pay(ME, provider)
    stack.wait_state(order.order_no, "paid")
    stack.abandon(ME)
    assert stack.order(order.order_no).state == "refunding"
    assert stack.candidate_row(ME).refund_decision == "放弃报名：已申请退款"

    stack.run_jobs_until(lambda: stack.order(order.order_no).state == "refunded")
    [refund] = stack.refunds(ME)
    assert refund.state == "succeeded" and refund.amount_fen == 15000 and refund.provider_refund_id
    [event] = stack.events("PaymentRefunded", ME)
    assert (event.order_no, event.refund_no, event.amount_fen, event.duplicate, event.provider) == (
        order.order_no,
        refund.refund_no,
        15000,
        False,
        provider,
    )
    assert sandbox.deliveries(provider, order.order_no)[-1]["kind"] == "refund"
    view = overview(stack)
    assert view.status == "refunded" and view.refunds[0].state_label == "已退款"
    # Abandoning again (a redelivered event) refunds nothing more.
    stack.abandon(ME)
    assert len(stack.refunds(ME)) == 1


def test_refund_is_verified_by_query_when_its_notification_fails(stack: Stack, sandbox: SandboxProcess) -> None:
    stack.eligible(ME)
    order = stack.pay(ME, "unionpay")
    stack.wait_state(order.order_no, "paid")
    gateway = stack.front.app

    def failing(environ, start_response):
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"fail"]

    stack.front.app = failing
    stack.abandon(ME)
    stack.run_jobs_until(lambda: stack.order(order.order_no).state == "refunded")
    stack.front.app = gateway
    assert len(stack.events("PaymentRefunded", ME)) == 1


def test_no_refund_when_the_policy_says_no(service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer) -> None:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer, refund_on_abandon=False) as stack:
        stack.eligible(ME)
        order = stack.pay(ME, "wechat")
        stack.wait_state(order.order_no, "paid")
        stack.abandon(ME)
        assert stack.refunds(ME) == [] and stack.order(order.order_no).state == "paid"
        assert stack.candidate_row(ME).refund_decision == "按退费规定，放弃报名不退还报名费"


def test_no_refund_after_the_deadline(service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer) -> None:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer, refund_until="2020-01-01T00:00:00") as stack:
        stack.eligible(ME)
        order = stack.pay(ME, "alipay")
        stack.wait_state(order.order_no, "paid")
        stack.abandon(ME)
        assert stack.refunds(ME) == []
        assert "截止" in stack.candidate_row(ME).refund_decision


def test_abandoning_retires_the_open_order(stack: Stack, sandbox: SandboxProcess) -> None:
    stack.eligible(ME)
    order = stack.start(ME, "wechat")
    stack.abandon(ME)
    assert stack.order(order.order_no).state == "closing"
    assert overview(stack).blocked_reason == "您已放弃报名，不能支付"
    # Paid anyway before it was closed: refunded, never counted as the registration's payment.
    stack.press_pay(stack.open_cashier(order))
    late = stack.wait_state(order.order_no, "refunding")
    assert late.duplicate and stack.refunds(ME)[0].reason == "放弃报名后支付"
    assert stack.events("PaymentSucceeded") == []


# ---------------------------------------------------------------- staff


def test_fees_are_set_by_the_province_and_apply_to_new_orders(stack: Stack) -> None:
    stack.eligible(ME)
    first = stack.start(ME, "wechat")
    fee = stack.stub.SetFee(
        pb.SetFeeRequest(category_code="1", category_name="普通类", amount_fen=16050), metadata=stack.province()
    )
    assert (fee.amount_fen, fee.updated_by) == (16050, "sheng01")
    assert stack.order(first.order_no).amount_fen == 15000  # an order keeps its amount
    assert overview(stack).amount_fen == 16050
    second = stack.start(ME, "alipay")
    assert second.amount_fen == 16050
    city = stack.bearer("city", "shi01", "01")
    request = pb.SetFeeRequest(category_code="1", category_name="普通类", amount_fen=1)
    assert rpc_error(stack.stub.SetFee, request, metadata=city).code() == grpc.StatusCode.PERMISSION_DENIED
    request.amount_fen = 0
    bad = rpc_error(stack.stub.SetFee, request, metadata=stack.province())
    assert (
        bad.code() == grpc.StatusCode.INVALID_ARGUMENT
        and dict(bad.trailing_metadata())["x-error-field"] == "amount_fen"
    )
    fees = stack.stub.ListFees(pb.ListFeesRequest(), metadata=stack.candidate(ME)).fees
    assert [(f.category_code, f.amount_fen) for f in fees] == [("1", 16050), ("2", 25000), ("3", 25000)]
    with stack.app.deps.db.unit_of_work() as session:
        [audit] = session.scalars(select(AuditRow).where(AuditRow.kind == "fee_set")).all()
    assert audit.actor == "sheng01" and "150.00元 → 160.50元" in audit.detail


def test_staff_see_orders_in_their_scope(stack: Stack) -> None:
    stack.eligible(ME)  # point 0113, city 01
    stack.eligible(ELSEWHERE)  # point 0201, city 02
    stack.start(ME, "wechat")
    stack.start(ELSEWHERE, "wechat")

    def listed(metadata) -> set[str]:
        return {o.candidate_no for o in stack.stub.ListOrders(pb.ListOrdersRequest(), metadata=metadata).orders}

    assert listed(stack.province()) == {ME, ELSEWHERE}
    assert listed(stack.bearer("city", "shi02", "02")) == {ELSEWHERE}
    assert listed(stack.bearer("point", "p0113", "01", "0113")) == {ME}
    reviewer = stack.bearer("reviewer", "r1", "01")
    assert (
        rpc_error(stack.stub.ListOrders, pb.ListOrdersRequest(), metadata=reviewer).code()
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        rpc_error(stack.stub.ListOrders, pb.ListOrdersRequest(), metadata=stack.candidate(ME)).code()
        == grpc.StatusCode.PERMISSION_DENIED
    )
    named = stack.stub.ListOrders(pb.ListOrdersRequest(candidate_no=ME), metadata=stack.province()).orders
    assert [o.candidate_name for o in named] == ["张三"]


def test_alerts_are_for_the_province(stack: Stack) -> None:
    reply = stack.stub.HandleNotification(pb.ProviderNotification(provider="wechat", headers={}, body=b"{}"))
    assert reply.status == 500
    alerts = stack.stub.ListAlerts(pb.ListAlertsRequest(), metadata=stack.province()).alerts
    assert [a.kind for a in alerts] == ["notification_malformed"]
    city = stack.bearer("city", "shi01", "01")
    assert (
        rpc_error(stack.stub.ListAlerts, pb.ListAlertsRequest(), metadata=city).code()
        == grpc.StatusCode.PERMISSION_DENIED
    )


def test_a_refund_the_provider_refuses_is_an_alert_and_the_money_stays_paid(stack: Stack, keys: SandboxKeys) -> None:
    stack.eligible(ME)
    order = stack.start(ME, "wechat")
    created = aware(stack.order(order.order_no).created_at)
    # Paid by a (genuinely signed) notification for a trade the sandbox itself does not hold.
    headers, body = forge.genuine(keys, forge.Payment("wechat", order.order_no, 15000, created))
    stack.stub.HandleNotification(pb.ProviderNotification(provider="wechat", headers=headers, body=body))
    stack.abandon(ME)
    stack.run_jobs_until(lambda: stack.refunds(ME)[0].state == "failed")
    [refund] = stack.refunds(ME)
    assert "RESOURCE_NOT_EXISTS" in refund.last_error
    assert stack.order(order.order_no).state == "paid"  # the money is still with us: staff must act
    assert [a.kind for a in stack.alerts()] == ["refund_failed"]
    assert stack.events("PaymentRefunded") == []


def test_a_provider_that_does_not_answer_leaves_no_payable_order(stack: Stack, sandbox: SandboxProcess) -> None:
    stack.eligible(ME)
    working = stack.app.deps.clients[Provider.WECHAT]
    stack.app.deps.clients[Provider.WECHAT] = build_client(  # type: ignore[index]
        "wechat", sandbox.settings(wechat_base_url="http://127.0.0.1:9/wechat", http_timeout_seconds=2)
    )
    refused = rpc_error(stack.start, ME, "wechat")
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(refused.trailing_metadata())["x-error-reason"] == "PROVIDER_UNAVAILABLE"
    [lost] = overview(stack).orders
    assert lost.state == "closing" and not lost.HasField("action")
    stack.app.jobs.run_once()  # the provider is still away: asked again later, nothing decided
    retried = stack.order(lost.order_no)
    assert retried.state == "closing" and retried.check_attempts == 1 and retried.next_check_at > retried.updated_at
    stack.app.deps.clients[Provider.WECHAT] = working  # type: ignore[index]
    again = stack.start(ME, "wechat")
    assert again.order_no != lost.order_no and again.state == "paying"
    with stack.app.deps.db.unit_of_work() as session:
        session.execute(
            update(OrderRow).where(OrderRow.order_no == lost.order_no).values(next_check_at=stack.app.deps.now())
        )
    stack.run_jobs_until(lambda: stack.order(lost.order_no).state == "closed")
    assert stack.events("PaymentFailed") == []  # it was never the candidate's attempt to pay


def test_an_order_the_provider_refuses_fails_quietly(stack: Stack, sandbox: SandboxProcess, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    stack.eligible(ME)
    stack.app.deps.clients[Provider.WECHAT] = build_client(  # type: ignore[index]
        "wechat", sandbox.settings(wechat_merchant_key_file=str(wrong))
    )
    refused = rpc_error(stack.start, ME, "wechat")
    assert dict(refused.trailing_metadata())["x-error-reason"] == "PROVIDER_REJECTED"
    [failed] = overview(stack).orders
    assert failed.state == "failed" and stack.order(failed.order_no).end_reason == "支付渠道未受理（SIGN_ERROR）"
    assert stack.events("PaymentFailed") == []
    assert stack.start(ME, "alipay").state == "paying"


def test_the_jobs_leave_an_order_being_handed_out_alone(stack: Stack) -> None:
    """立即支付 writes the order, then calls the provider: a query that falls due in between must
    not close the order the candidate is about to be shown (found by tests/reliability)."""
    stack.eligible(ME)
    order = stack.start(ME, "wechat")
    now = stack.app.deps.now()
    # As the row was before the provider's answer: created, nothing handed out, its check due.
    with stack.app.deps.db.unit_of_work() as session:
        session.execute(
            update(OrderRow)
            .where(OrderRow.order_no == order.order_no)
            .values(state="created", action_kind="", created_at=now, next_check_at=now)
        )
    stack.app.jobs.run_once()
    assert stack.order(order.order_no).state == "created"  # asked again later, not closed
    # Never handed out long after its creation: that 立即支付 died, so the order is closed.
    with stack.app.deps.db.unit_of_work() as session:
        session.execute(
            update(OrderRow)
            .where(OrderRow.order_no == order.order_no)
            .values(created_at=now - timedelta(minutes=2), next_check_at=now)
        )
    stack.app.jobs.run_once()
    assert stack.order(order.order_no).state == "closed"
