"""Test support: the payment service in-process, the sandbox as a real process, and the real
gateway app on loopback as the providers' callback (so notifications take the production path:
sandbox → HTTP → gateway callback → gRPC HandleNotification → payment service)."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import requests
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from services.payment.adapters.tables import AuditRow, CandidateRow, OrderRow, RefundRow
from services.payment.main import PaymentRuntime
from services.payment.providers import build_clients
from services.payment.sandbox.testing import SandboxProcess, wait_until
from services.payment.service import projection
from services.payment.service.app import PaymentApp
from services.payment.service.config import PaymentConfig
from zsb.common.settings import Settings
from zsb.common.tables import outbox
from zsb.events.v1 import payment_events_pb2
from zsb.payment.v1 import payment_pb2 as pb
from zsb.payment.v1 import payment_pb2_grpc

PROVIDERS = ["wechat", "alipay", "unionpay"]


def new_candidate_no(point: str = "0113") -> str:
    """A valid 考生号 (year, 14 山西, 51 专升本, point, serial) of that 报名点 that no other test uses:
    the consumers read the shared topics from the start, where other tests' events about their
    own candidates (e.g. 放弃报名 of 21145101130001) are."""
    return f"{60 + secrets.randbelow(40)}1451{point}{1 + secrets.randbelow(9999):04d}"


class Front:
    """A WSGI server on a free loopback port whose app is set once it exists."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

        def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            assert self.app is not None, "front app not set"
            return self.app(environ, start_response)

        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, dispatch, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def quick_config(base_url: str, **overrides: Any) -> PaymentConfig:
    values: dict[str, Any] = {
        "public_base_url": base_url,
        "jobs_enabled": False,  # tests drive the jobs with run_once()
        "close_grace_seconds": 0,
        "check_min_interval_seconds": 0,
        "query_backoff_seconds": "1",
        "refund_backoff_seconds": "1",
        "reconcile_daily_at": "",
        **overrides,
    }
    return PaymentConfig(**values)


@dataclass
class Stack:
    runtime: PaymentRuntime
    sandbox: SandboxProcess
    front: Front
    stub: payment_pb2_grpc.PaymentServiceStub
    bearer: Callable[..., tuple]

    @property
    def app(self) -> PaymentApp:
        return self.runtime.app

    # ------------------------------------------------------------ callers

    def candidate(self, candidate_no: str) -> tuple:
        return self.bearer("candidate", candidate_no, candidate_no[6:8], candidate_no[6:10])

    def province(self) -> tuple:
        return self.bearer("province", "sheng01")

    # ------------------------------------------------------------ facts from other services

    def eligible(self, candidate_no: str, category: str = "1", identity: bool = True, confirmed: bool = True) -> None:
        """What the identity and registration events record (their consumer path has its own test)."""
        with self.app.deps.db.unit_of_work() as session:
            if confirmed:
                projection.registration_confirmed(
                    session,
                    candidate_no,
                    name="张三",
                    category_code=category,
                    city_code=candidate_no[6:8],
                    point_code=candidate_no[6:10],
                    at=self.app.deps.now(),
                )
            if identity:
                projection.identity_verified(session, candidate_no, self.app.deps.now())

    def abandon(self, candidate_no: str) -> None:
        """What the registration service's RegistrationAbandoned records (its consumer has its own test)."""
        config = self.app.deps.config
        with self.app.deps.db.unit_of_work() as session:
            projection.registration_abandoned(
                session,
                candidate_no,
                at=self.app.deps.now(),
                policy=config.refund_policy(),
                close_grace_seconds=config.close_grace_seconds,
                now=self.app.deps.now(),
            )

    def run_jobs_until(self, predicate: Callable[[], Any], timeout: float = 30) -> Any:
        def step() -> Any:
            self.app.jobs.run_once()
            return predicate()

        return wait_until(step, timeout, interval=0.2)

    # ------------------------------------------------------------ paying as a person would

    def start(self, candidate_no: str, provider: str) -> pb.Order:
        return self.stub.StartPayment(
            pb.StartPaymentRequest(candidate_no=candidate_no, provider=provider), metadata=self.candidate(candidate_no)
        )

    def open_cashier(self, order: pb.Order) -> requests.Response:
        """What the candidate's browser does with the action: scan the QR, follow, or post the form."""
        action = order.action
        if action.kind == "form":
            page = requests.post(action.url, data=dict(action.form_fields), timeout=10)
        else:
            page = requests.get(action.url, timeout=10)
        assert page.status_code == 200, page.text
        return page

    def press_pay(self, page: requests.Response) -> requests.Response:
        form = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert form, page.text
        return requests.post(form.group(1), timeout=10)

    def pay(self, candidate_no: str, provider: str) -> pb.Order:
        order = self.start(candidate_no, provider)
        assert self.press_pay(self.open_cashier(order)).status_code == 200
        return order

    # ------------------------------------------------------------ looking at our records

    def order(self, order_no: str) -> OrderRow:
        with self.app.deps.db.unit_of_work() as session:
            row = session.get(OrderRow, order_no)
            assert row is not None
            return row

    def wait_state(self, order_no: str, *states: str, timeout: float = 30) -> OrderRow:
        return wait_until(lambda: (o := self.order(order_no)).state in states and o, timeout)

    def candidate_row(self, candidate_no: str) -> CandidateRow:
        with self.app.deps.db.unit_of_work() as session:
            row = session.get(CandidateRow, candidate_no)
            assert row is not None
            return row

    def refunds(self, candidate_no: str) -> list[RefundRow]:
        with self.app.deps.db.unit_of_work() as session:
            return list(session.scalars(select(RefundRow).where(RefundRow.candidate_no == candidate_no)))

    def events(self, event_type: str, candidate_no: str | None = None) -> list[Any]:
        """Decoded outbox events of one type (what the relay publishes), oldest first."""
        cls = getattr(payment_events_pb2, event_type)
        with self.app.deps.db.unit_of_work() as session:
            rows = session.execute(
                select(outbox.c.key, outbox.c.payload)
                .where(outbox.c.ce_type == cls.DESCRIPTOR.full_name)
                .order_by(outbox.c.seq)
            ).all()
        found = []
        for key, payload in rows:
            if candidate_no is None or key == candidate_no:
                message = cls()
                message.ParseFromString(payload)
                found.append(message)
        return found

    def alerts(self, kind: str | None = None) -> list[AuditRow]:
        with self.app.deps.db.unit_of_work() as session:
            query = select(AuditRow).where(AuditRow.level == "alert").order_by(AuditRow.id)
            if kind:
                query = query.where(AuditRow.kind == kind)
            return list(session.scalars(query))


@contextmanager
def payment_stack(
    service_settings: Callable[..., Settings],
    database_url: str,
    sandbox: SandboxProcess,
    bearer: Callable[..., tuple],
    consume: bool = False,
    **config: Any,
) -> Iterator[Stack]:
    """The payment service (jobs driven by the test), the gateway as callback, the sandbox.

    Without `consume` the service does not read Kafka: the test records identity and registration
    facts itself (`Stack.eligible`, `Stack.abandon`); their consumer path has its own test."""
    from gateway.app import create_app  # the gateway is only this test's callback front

    front = Front()
    clients = build_clients(sandbox.settings())
    runtime = PaymentRuntime(
        service_settings("payment", database_url),
        app=lambda ctx: PaymentApp.build(ctx, config=quick_config(front.url, **config), clients=clients),
        consume=consume,
    )
    port = runtime.start()
    front.app = create_app(
        Settings(service_name="gateway", secret_key="test-secret", service_addresses=f"payment=127.0.0.1:{port}")
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Stack(runtime, sandbox, front, payment_pb2_grpc.PaymentServiceStub(channel), bearer)
    finally:
        channel.close()
        front.close()
        runtime.stop(grace=0)
