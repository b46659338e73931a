"""What the payment use cases share: the database, settings, provider clients and the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.payment.providers import build_client
from services.payment.providers.base import Provider, ProviderClient, ProviderConfigError
from services.payment.providers.config import PaymentProviderSettings
from services.payment.service.config import PaymentConfig
from zsb.common.clock import utcnow
from zsb.common.db import Database
from zsb.common.errors import InvalidArgument
from zsb.common.objectstore import ObjectStore

log = logging.getLogger("payment")

PROVIDER_LABELS = {Provider.WECHAT: "微信支付", Provider.ALIPAY: "支付宝支付", Provider.UNIONPAY: "银联支付"}


def build_enabled_clients(settings: PaymentProviderSettings) -> dict[Provider, ProviderClient]:
    """The clients of the enabled providers. A provider whose keys are missing is left out (and
    logged at ERROR) so that the rest of the platform runs; the page offers only what works."""
    clients: dict[Provider, ProviderClient] = {}
    for name in settings.enabled():
        try:
            clients[Provider(name)] = build_client(name, settings)
        except (ProviderConfigError, ValueError) as exc:
            log.error("payment provider %s is not configured: %s", name, exc)
    return clients


@dataclass
class Deps:
    db: Database
    config: PaymentConfig
    clients: Mapping[Provider, ProviderClient]
    statements: Callable[[], ObjectStore]  # the private bucket of downloaded statements
    clock: Callable[[], datetime] = field(default=utcnow)  # naive UTC

    def now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    def client(self, provider: str | Provider) -> ProviderClient:
        try:
            return self.clients[Provider(provider)]
        except (ValueError, KeyError):
            raise InvalidArgument("不支持该支付方式", reason="PROVIDER_NOT_ENABLED", field="provider") from None

    def providers(self) -> list[Provider]:
        return [p for p in Provider if p in self.clients]
