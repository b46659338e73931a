"""Entry point of the payment service: `python -m services.payment.main`.

Beside the shared runtime (gRPC, outbox relay, consumers) the service runs its jobs thread:
queries of orders whose notification did not come, closing expired orders, refunds, and the daily
reconciliation. `PaymentRuntime` is the same in this process and in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from services.payment.api import PUBLIC_METHODS, registrars
from services.payment.consumers import subscriptions
from services.payment.service.app import PaymentApp, app_for, attach
from zsb.common.runtime import ServiceContext, ServiceRuntime, ServiceSpec, run_service
from zsb.common.settings import Settings

SPEC = ServiceSpec(
    name="payment",
    migrations_dir=Path(__file__).parent / "migrations",
    registrars=registrars,
    subscriptions=subscriptions,
    public_methods=PUBLIC_METHODS,
)


class PaymentRuntime(ServiceRuntime):
    """The shared service runtime plus the payment jobs thread (stopped with everything else)."""

    def __init__(
        self, settings: Settings, app: Callable[[ServiceContext], PaymentApp] | None = None, consume: bool = True
    ) -> None:
        # consume=False: no Kafka subscriptions (tests that record the facts themselves).
        super().__init__(SPEC if consume else replace(SPEC, subscriptions=lambda _ctx: []), settings)
        if app is not None:
            attach(self.ctx, app(self.ctx))

    @property
    def app(self) -> PaymentApp:
        return app_for(self.ctx)

    def start(self) -> int:
        port = super().start()
        if self.app.deps.config.jobs_enabled:
            self._spawn("payment-jobs", lambda: self.app.jobs.run(self.stop_event))
        return port


if __name__ == "__main__":
    run_service(SPEC, PaymentRuntime)
