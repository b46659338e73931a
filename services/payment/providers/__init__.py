"""The provider protocol layer: one client per payment provider behind `ProviderClient`.

settings = PaymentProviderSettings()          # PAYMENT_* from the environment
clients = build_clients(settings)             # {Provider.WECHAT: WeChatPayClient, ...}
action = clients[Provider.WECHAT].create_payment(PaymentRequest(...))
notification = clients[p].parse_and_verify_notification(headers, body)  # or NotificationRejected
"""

from __future__ import annotations

from services.payment.providers.base import Clock, Provider, ProviderClient, utc_now
from services.payment.providers.config import PaymentProviderSettings


def build_client(provider: Provider | str, settings: PaymentProviderSettings, clock: Clock = utc_now) -> ProviderClient:
    """The client of one provider (imports lazily: each SDK loads only where it is used)."""
    provider = Provider(provider)
    if provider is Provider.WECHAT:
        from services.payment.providers.wechat import WeChatPayClient

        return WeChatPayClient(settings, clock)
    if provider is Provider.ALIPAY:
        from services.payment.providers.alipay import AlipayClient

        return AlipayClient(settings, clock)
    from services.payment.providers.unionpay import UnionPayClient

    return UnionPayClient(settings, clock)


def build_clients(settings: PaymentProviderSettings, clock: Clock = utc_now) -> dict[Provider, ProviderClient]:
    """The clients of the enabled providers (PAYMENT_PROVIDERS)."""
    return {Provider(name): build_client(name, settings, clock) for name in settings.enabled()}


__all__ = ["PaymentProviderSettings", "Provider", "ProviderClient", "build_client", "build_clients"]
