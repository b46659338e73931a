"""The payment service assembled: its use cases over one set of dependencies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select

from services.payment.adapters.tables import AuditRow
from services.payment.providers.base import Provider, ProviderClient
from services.payment.providers.config import PaymentProviderSettings
from services.payment.service.config import PaymentConfig
from services.payment.service.context import Deps, build_enabled_clients
from services.payment.service.fees import FeesService
from services.payment.service.jobs import PaymentJobs
from services.payment.service.notifications import NotificationsService
from services.payment.service.orders import OrdersService
from services.payment.service.reconciliation import ReconciliationService
from services.payment.service.refunds import RefundsService
from zsb.common.clock import utcnow
from zsb.common.runtime import ServiceContext


class PaymentApp:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.orders = OrdersService(deps)
        self.refunds = RefundsService(deps)
        self.notifications = NotificationsService(deps)
        self.fees = FeesService(deps)
        self.reconciliation = ReconciliationService(deps, self.orders, self.refunds)
        self.jobs = PaymentJobs(deps, self.orders, self.refunds, self.reconciliation)

    def audit_rows(self, kind: str, limit: int) -> list[AuditRow]:
        """The newest alerts and staff decisions, of one kind when given."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(min(max(limit, 1), 500))
        if kind:
            query = query.where(AuditRow.kind == kind)
        with self.deps.db.unit_of_work() as session:
            return list(session.scalars(query))

    @classmethod
    def build(
        cls,
        ctx: ServiceContext,
        config: PaymentConfig | None = None,
        provider_settings: PaymentProviderSettings | None = None,
        clients: Mapping[Provider, ProviderClient] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> PaymentApp:
        """From the process's context; settings from the environment unless given (tests give them)."""
        if clients is None:
            clients = build_enabled_clients(provider_settings or PaymentProviderSettings())
        deps = Deps(
            db=ctx.db,
            config=config or PaymentConfig(),
            clients=clients,
            statements=lambda: ctx.object_store("statements"),
            clock=clock,
        )
        return cls(deps)


_ATTR = "_payment_app"


def app_for(ctx: ServiceContext) -> PaymentApp:
    """The one PaymentApp of a service context (the servicer, the consumers and the jobs share it)."""
    app: PaymentApp | None = getattr(ctx, _ATTR, None)
    if app is None:
        app = PaymentApp.build(ctx)
        setattr(ctx, _ATTR, app)
    return app


def attach(ctx: ServiceContext, app: PaymentApp) -> None:
    """Use this app for the context (tests build it with their own settings and clients)."""
    setattr(ctx, _ATTR, app)
