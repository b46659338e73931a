"""Reconciliation against each provider's real statement format, from the sandbox process.

This module has a sandbox of its own: a statement lists every order of its day at the provider,
and the other modules' orders are not in this test's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import grpc
import pytest
import requests
from sqlalchemy import select, update

from services.payment.adapters.tables import OrderRow, ReconciliationRow
from services.payment.providers import build_client
from services.payment.providers.base import PaymentRequest, Provider, utc_now
from services.payment.sandbox.testing import SandboxProcess
from services.payment.tests.support import PROVIDERS, Stack, new_candidate_no, payment_stack
from zsb.common.clock import BEIJING
from zsb.payment.v1 import payment_pb2 as pb


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture
def stack(service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer) -> Iterator[Stack]:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer) as s:
        yield s


def today() -> str:
    return datetime.now(BEIJING).date().isoformat()


def stranger_payment(stack: Stack, sandbox: SandboxProcess, provider: str) -> str:
    """A payment at the provider that we never made an order for (e.g. another system's)."""
    client = stack.app.deps.clients[Provider(provider)]
    number, now = "ZSBX" + uuid.uuid4().hex[:20].upper(), utc_now()
    action = client.create_payment(
        PaymentRequest(
            number, 501, "其他收费", f"{stack.front.url}/payment/notify/{provider}", now + timedelta(hours=1), now
        )
    )
    if action.kind == "form":
        requests.post(action.url, data=dict(action.form_fields), timeout=10)
    else:
        requests.get(action.url, timeout=10)
    assert sandbox.pay(provider, number, notify=False).status_code == 200
    return number


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_difference_is_reported_and_a_silent_payment_is_settled(
    provider: str, stack: Stack, sandbox: SandboxProcess
) -> None:
    matched, refunded, silent, amount, ours_only = (new_candidate_no() for _ in range(5))
    for candidate in (matched, refunded, silent, amount, ours_only):
        stack.eligible(candidate)
    # Paid and notified: both sides agree.
    a = stack.pay(matched, provider)
    stack.wait_state(a.order_no, "paid")
    # Paid, abandoned, refunded: payment and refund agree.
    r = stack.pay(refunded, provider)
    stack.wait_state(r.order_no, "paid")
    stack.abandon(refunded)
    stack.run_jobs_until(lambda: stack.order(r.order_no).state == "refunded")
    # Paid at the provider, notification never sent ('notify:false'): we still think it is open.
    s = stack.start(silent, provider)
    stack.open_cashier(s)
    assert sandbox.pay(provider, s.order_no, notify=False).status_code == 200
    # Our record of the amount disagrees with the provider's (simulated corruption).
    d = stack.pay(amount, provider)
    stack.wait_state(d.order_no, "paid")
    with stack.app.deps.db.unit_of_work() as session:
        session.execute(update(OrderRow).where(OrderRow.order_no == d.order_no).values(amount_fen=15001))
    # Paid by our records only (simulated: the provider never saw it).
    m = stack.start(ours_only, provider)
    with stack.app.deps.db.unit_of_work() as session:
        session.execute(
            update(OrderRow)
            .where(OrderRow.order_no == m.order_no)
            .values(state="paid", paid_at=stack.app.deps.now(), provider_trade_no="T" + m.order_no, paid_via="notify")
        )
    x = stranger_payment(stack, sandbox, provider)

    run = stack.stub.Reconcile(pb.ReconcileRequest(provider=provider, bill_date=today()), metadata=stack.province())

    assert run.status == "differences" and run.actor == "sheng01"
    found = {(diff.kind, diff.order_no) for diff in run.differences}
    assert found == {
        ("status_mismatch", s.order_no),
        ("amount_mismatch", d.order_no),
        ("missing_ours", x),
        ("missing_theirs", m.order_no),
    }
    by_kind = {diff.kind: diff for diff in run.differences}
    assert (by_kind["amount_mismatch"].ours_fen, by_kind["amount_mismatch"].theirs_fen) == (15001, 15000)
    assert (by_kind["missing_ours"].ours_fen, by_kind["missing_ours"].theirs_fen) == (-1, 501)
    assert by_kind["status_mismatch"].ours_state == "paying" and by_kind["status_mismatch"].theirs_state == "PAID"
    assert run.statement_entries == 6  # five payments and one refund
    assert (run.statement_paid_fen, run.statement_refunded_fen) == (4 * 15000 + 501, 15000)
    assert (run.our_paid_fen, run.our_refunded_fen) == (15000 * 3 + 15001, 15000)
    # The silent payment was checked with a verified query and settled.
    assert by_kind["status_mismatch"].note == "已按渠道查询结果补记支付"
    settled = stack.order(s.order_no)
    assert settled.state == "paid" and settled.paid_via == "reconcile"
    assert [e.order_no for e in stack.events("PaymentSucceeded", silent)] == [s.order_no]
    assert [a.kind for a in stack.alerts("reconciliation_difference")] == ["reconciliation_difference"]
    # The provider's file is kept.
    with stack.app.deps.db.unit_of_work() as session:
        key = session.scalars(select(ReconciliationRow.statement_key)).one()
    assert key and stack.app.deps.statements().get(key)
    # Staff read it back; run again, the settled payment is no longer a difference.
    again = stack.stub.Reconcile(pb.ReconcileRequest(provider=provider, bill_date=today()), metadata=stack.province())
    assert {(diff.kind, diff.order_no) for diff in again.differences} == found - {("status_mismatch", s.order_no)}
    listed = stack.stub.ListReconciliations(pb.ListReconciliationsRequest(), metadata=stack.province()).runs
    assert [(r.id, r.difference_count) for r in listed] == [(again.id, 3), (run.id, 4)]
    assert (
        len(stack.stub.GetReconciliation(pb.GetReconciliationRequest(id=run.id), metadata=stack.province()).differences)
        == 4
    )


def test_a_statement_that_cannot_be_downloaded_is_a_failed_run(stack: Stack, sandbox: SandboxProcess) -> None:
    stack.app.deps.clients[Provider.WECHAT] = build_client(  # type: ignore[index]
        "wechat", sandbox.settings(wechat_base_url="http://127.0.0.1:9/wechat", http_timeout_seconds=2)
    )
    run = stack.stub.Reconcile(pb.ReconcileRequest(provider="wechat", bill_date=today()), metadata=stack.province())
    assert run.status == "error" and run.error.startswith("对账单下载失败")


def test_only_the_province_reconciles(stack: Stack) -> None:
    request = pb.ReconcileRequest(provider="alipay", bill_date=today())
    city = stack.bearer("city", "shi01", "01")
    with pytest.raises(grpc.RpcError) as denied:
        stack.stub.Reconcile(request, metadata=city)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    request.bill_date = "2026/03/01"
    with pytest.raises(grpc.RpcError) as bad:
        stack.stub.Reconcile(request, metadata=stack.province())
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_daily_job_reconciles_yesterday_once(
    service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer
) -> None:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer, reconcile_daily_at="00:00") as stack:
        assert stack.app.jobs.run_once().reconciliations == 3
        assert stack.app.jobs.run_once().reconciliations == 0
        runs = stack.stub.ListReconciliations(pb.ListReconciliationsRequest(), metadata=stack.province()).runs
        yesterday = (datetime.now(BEIJING).date() - timedelta(days=1)).isoformat()
        assert sorted((r.provider, r.bill_date, r.status, r.actor) for r in runs) == [
            (p, yesterday, "matched", "system") for p in sorted(PROVIDERS)
        ]
