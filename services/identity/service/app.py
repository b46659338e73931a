"""The identity service assembled: its use cases over one set of dependencies per process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.identity.service.candidate import CandidateService
from services.identity.service.common import Deps
from services.identity.service.engine import Engine, EngineHolder, default_engine
from services.identity.service.retention import RetentionJob
from services.identity.service.staff import StaffService
from services.identity.service.worker import VerificationWorker
from services.identity.settings import IdentitySettings
from zsb.common.clock import utcnow
from zsb.common.runtime import ServiceContext


class IdentityApp:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.candidates = CandidateService(deps)
        self.staff = StaffService(deps)
        self.worker = VerificationWorker(deps)
        self.retention = RetentionJob(deps)

    @property
    def settings(self) -> IdentitySettings:
        return self.deps.settings

    @classmethod
    def build(
        cls,
        ctx: ServiceContext,
        settings: IdentitySettings | None = None,
        engine: Callable[[], Engine] = default_engine,
        clock: Callable[[], datetime] = utcnow,
    ) -> IdentityApp:
        """From the process's context; settings from the environment unless given (tests give them).

        `engine` builds the face engine (the real one by default, loaded once, lazily).
        """
        return cls(Deps(ctx=ctx, settings=settings or IdentitySettings(), engines=EngineHolder(engine), clock=clock))


_ATTR = "_identity_app"


def app_for(ctx: ServiceContext) -> IdentityApp:
    """The one IdentityApp of a service context (the servicer, the worker and the jobs share it)."""
    app: IdentityApp | None = getattr(ctx, _ATTR, None)
    if app is None:
        app = IdentityApp.build(ctx)
        setattr(ctx, _ATTR, app)
    return app


def attach(ctx: ServiceContext, app: IdentityApp) -> None:
    setattr(ctx, _ATTR, app)
