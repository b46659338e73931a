"""Entry point of the identity service: `python -m services.identity.main`.

Beside the shared runtime (gRPC, outbox relay, consumers) the process runs the verification
worker (which loads the face engine in its own thread, so the gRPC server is healthy at once)
and the photo retention job. `IdentityRuntime` is the same in this process and in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from services.identity.api import registrars
from services.identity.consumers import subscriptions
from services.identity.service.app import IdentityApp, app_for, attach
from zsb.common.runtime import ServiceContext, ServiceRuntime, ServiceSpec, run_service
from zsb.common.settings import Settings

SPEC = ServiceSpec(
    name="identity",
    migrations_dir=Path(__file__).parent / "migrations",
    registrars=registrars,
    subscriptions=subscriptions,
)


class IdentityRuntime(ServiceRuntime):
    """The shared service runtime plus the verification worker and the retention job."""

    def __init__(
        self, settings: Settings, app: Callable[[ServiceContext], IdentityApp] | None = None, consume: bool = True
    ) -> None:
        # consume=False: no Kafka consumers (tests that record registration's facts directly).
        super().__init__(SPEC if consume else replace(SPEC, subscriptions=lambda _ctx: []), settings)
        if app is not None:
            attach(self.ctx, app(self.ctx))

    @property
    def app(self) -> IdentityApp:
        return app_for(self.ctx)

    def start(self) -> int:
        port = super().start()
        if self.app.settings.worker_enabled:
            self._spawn("identity-worker", lambda: self.app.worker.run(self.stop_event))
        self._spawn("identity-retention", lambda: self.app.retention.run(self.stop_event))
        return port

    def stop(self, grace: float = 5.0) -> None:
        self.app.deps.wake.set()  # the worker returns to its stop check at once
        super().stop(grace)


if __name__ == "__main__":
    run_service(SPEC, IdentityRuntime)
