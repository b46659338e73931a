"""Every row of the payment audit (staff decisions and alerts) is published as PaymentStaffAction
in its transaction, for the platform's audit log (the auth service collects them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.payment.adapters.tables import AuditRow
from services.payment.sandbox.testing import SandboxProcess
from services.payment.tests.support import Stack, new_candidate_no, payment_stack
from zsb.common.tables import outbox
from zsb.events.v1 import payment_events_pb2 as ev
from zsb.payment.v1 import payment_pb2 as pb


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture
def stack(service_settings, database_url: str, sandbox: SandboxProcess, bearer) -> Iterator[Stack]:
    with payment_stack(service_settings, database_url, sandbox, bearer) as s:
        yield s


def staff_actions(stack: Stack) -> list[tuple[str, ev.PaymentStaffAction]]:
    """(key, event) of every PaymentStaffAction in the outbox, oldest first."""
    with stack.app.deps.db.unit_of_work() as session:
        rows = session.execute(
            select(outbox.c.key, outbox.c.payload)
            .where(outbox.c.ce_type == ev.PaymentStaffAction.DESCRIPTOR.full_name)
            .order_by(outbox.c.seq)
        ).all()
    return [(key, ev.PaymentStaffAction.FromString(payload)) for key, payload in rows]


def test_fee_changes_and_alerts_are_published_with_their_audit_rows(stack: Stack) -> None:
    stack.stub.SetFee(
        pb.SetFeeRequest(category_code="1", category_name="普通类", amount_fen=16050), metadata=stack.province()
    )
    [(key, fee)] = staff_actions(stack)
    assert (key, fee.action, fee.actor, fee.actor_role, fee.level, fee.subject) == (
        "payment",
        "fee_set",
        "sheng01",
        "province",
        "audit",
        "",
    )
    assert fee.detail.endswith("→ 160.50元")

    # A second payment of a paid fee: an alert about that candidate's order, keyed by the 考生号.
    me = new_candidate_no()
    stack.eligible(me)
    old = stack.start(me, "unionpay")
    old_cashier = stack.open_cashier(old)
    new = stack.start(me, "wechat")
    stack.press_pay(stack.open_cashier(new))
    stack.wait_state(new.order_no, "paid")
    stack.press_pay(old_cashier)
    stack.wait_state(old.order_no, "refunding")

    published = staff_actions(stack)
    with stack.app.deps.db.unit_of_work() as session:
        rows = list(session.scalars(select(AuditRow).order_by(AuditRow.id)))
    assert [(e.action, e.level, e.order_no, e.detail) for _, e in published] == [
        (r.kind, r.level, r.order_no, r.detail) for r in rows
    ]
    key, alert = published[-1]
    assert (key, alert.action, alert.level, alert.candidate_no, alert.order_no, alert.subject) == (
        me,
        "duplicate_payment",
        "alert",
        me,
        old.order_no,
        old.order_no,
    )
    assert alert.actor == "" and alert.actor_role == ""
