"""网上支付 only within its phase: the calendar's CalendarPhaseChanged, handled by the payment
consumer's own handler, opens and closes StartPayment. And the staff payment statistics' scope.

The handler is invoked as the consumer does (inside a unit of work) rather than through Kafka:
a closed payment window published to the shared topic would be replayed by other tests' consumers.
The consumer machinery itself (Kafka, idempotency) has its own tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.payment.consumers import subscriptions
from services.payment.sandbox.testing import SandboxProcess
from services.payment.tests.support import Stack, new_candidate_no, payment_stack
from zsb.common.clock import utcnow
from zsb.common.events import Envelope
from zsb.common.grpc_server import REASON_KEY
from zsb.events.v1 import registration_events_pb2 as registration
from zsb.payment.v1 import payment_pb2 as pb

ME = new_candidate_no()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@pytest.fixture
def stack(service_settings, mariadb_url: str, sandbox: SandboxProcess, bearer) -> Iterator[Stack]:
    with payment_stack(service_settings, mariadb_url, sandbox, bearer) as s:
        s.eligible(ME)
        yield s


def ts(delta: timedelta) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(utcnow() + delta)
    return out


def deliver(stack: Stack, event: registration.CalendarPhaseChanged) -> None:
    """What the payment consumer does with the event, in its transaction."""
    [sub] = [s for s in subscriptions(stack.runtime.ctx) if s.group == "payment"]
    handler_type = registration.CalendarPhaseChanged.DESCRIPTOR.full_name
    handler = sub.handlers[handler_type]
    with stack.app.deps.db.unit_of_work() as session:
        handler(session, event, Envelope("test", handler_type, "registration", "", "", b""))


def test_start_payment_only_within_the_payment_phase(stack: Stack) -> None:
    hour = timedelta(hours=1)
    deliver(stack, registration.CalendarPhaseChanged(phase="payment", opens_at=ts(hour), version=100, actor="p"))
    with pytest.raises(grpc.RpcError) as err:
        stack.start(ME, "wechat")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(err.value.trailing_metadata())[REASON_KEY] == "PHASE_CLOSED"
    assert "网上支付将于" in err.value.details()
    assert not stack.candidate_row(ME).open_order_no  # refused before any order was made

    # A replay of an older change does not reopen it; a newer one does.
    deliver(stack, registration.CalendarPhaseChanged(phase="payment", version=50, actor="p"))
    with pytest.raises(grpc.RpcError):
        stack.start(ME, "wechat")
    deliver(
        stack,
        registration.CalendarPhaseChanged(phase="payment", opens_at=ts(-hour), closes_at=ts(hour), version=200),
    )
    order = stack.start(ME, "wechat")
    assert order.order_no and stack.candidate_row(ME).open_order_no == order.order_no

    deliver(stack, registration.CalendarPhaseChanged(phase="payment", closes_at=ts(-hour), version=300))
    with pytest.raises(grpc.RpcError) as closed:
        stack.start(ME, "wechat")
    assert "网上支付已于" in closed.value.details()


def test_payment_statistics_by_city_within_scope(stack: Stack, bearer) -> None:
    order = stack.pay(ME, "alipay")
    stack.wait_state(order.order_no, "paid")
    paid = stack.order(order.order_no).amount_fen

    def stats(*who: str) -> dict[str, tuple[int, int]]:
        resp = stack.stub.GetPaymentStats(pb.GetPaymentStatsRequest(), metadata=bearer(*who))
        return {c.city_code: (c.paid, c.amount_fen) for c in resp.by_city}

    assert stats("province", "sheng01") == {"01": (1, paid)}
    assert stats("city", "city01", "01") == {"01": (1, paid)}
    assert stats("city", "city02", "02") == {}
    assert stats("point", "p0113", "01", "0113") == {"01": (1, paid)}
    assert stats("point", "p0102", "01", "0102") == {}
    with pytest.raises(grpc.RpcError) as err:
        stats("reviewer", "r01", "01")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        stats("candidate", ME, "01", "0113")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
