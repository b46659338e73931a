"""Settings of the payment use cases (PAYMENT_*); the provider clients have theirs in providers/config.py."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.payment.domain.refunds import RefundPolicy
from zsb.common.clock import BEIJING


def _seconds(text: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in text.split(",") if v.strip())
    if not values or any(v <= 0 for v in values):
        raise ValueError("a comma-separated list of positive seconds")
    return values


class PaymentConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", case_sensitive=False, extra="ignore")

    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="the gateway as providers and browsers reach it: notify URLs are "
        "<this>/payment/notify/<provider>, return URLs <this>/payment",
    )
    description: str = Field("山西省专升本考试报名费", description="what the payer sees on the provider's page")
    order_ttl_seconds: int = Field(1800, gt=0, description="an order can be paid this long, then it is closed")
    reuse_margin_seconds: int = Field(
        120, ge=0, description="立即支付 again shows the same order while it has this long left"
    )
    close_grace_seconds: int = Field(60, ge=0, description="wait this long after expiry before closing (clock skew)")
    query_backoff_seconds: str = Field(
        "30,60,120,300,600", description="between queries of an open order; the last repeats"
    )
    refund_backoff_seconds: str = Field("5,30,60,300,600", description="between attempts/queries of a refund")
    check_min_interval_seconds: int = Field(
        5, ge=0, description="a candidate's 'check now' queries the provider at most this often"
    )
    jobs_enabled: bool = True
    jobs_interval_seconds: float = Field(5.0, gt=0)
    refund_on_abandon: bool = Field(True, description="refund the fee of a paid registration that is abandoned")
    refund_until: str = Field(
        "",
        description="last moment an abandonment is refunded (ISO 8601, Beijing unless an offset); '' no limit",
    )
    reconcile_daily_at: str = Field("10:00", description="Beijing time to reconcile the previous day; '' disables")

    @field_validator("query_backoff_seconds", "refund_backoff_seconds")
    @classmethod
    def _check_backoff(cls, value: str) -> str:
        _seconds(value)
        return value

    @field_validator("refund_until")
    @classmethod
    def _check_until(cls, value: str) -> str:
        if value.strip():
            datetime.fromisoformat(value.strip())
        return value

    @field_validator("reconcile_daily_at")
    @classmethod
    def _check_daily(cls, value: str) -> str:
        if value.strip():
            time.fromisoformat(value.strip())
        return value

    # ------------------------------------------------------------ derived values

    @property
    def query_backoff(self) -> tuple[int, ...]:
        return _seconds(self.query_backoff_seconds)

    @property
    def refund_backoff(self) -> tuple[int, ...]:
        return _seconds(self.refund_backoff_seconds)

    @property
    def order_ttl(self) -> timedelta:
        return timedelta(seconds=self.order_ttl_seconds)

    @property
    def close_grace(self) -> timedelta:
        return timedelta(seconds=self.close_grace_seconds)

    @property
    def reuse_margin(self) -> timedelta:
        return timedelta(seconds=self.reuse_margin_seconds)

    @property
    def daily_at(self) -> time | None:
        return time.fromisoformat(self.reconcile_daily_at.strip()) if self.reconcile_daily_at.strip() else None

    def refund_policy(self) -> RefundPolicy:
        until = None
        if self.refund_until.strip():
            moment = datetime.fromisoformat(self.refund_until.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=BEIJING)
            until = moment.astimezone(UTC).replace(tzinfo=None)  # naive UTC, like every stored time
        return RefundPolicy(self.refund_on_abandon, until)

    def notify_url(self, provider: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/payment/notify/{provider}"

    def return_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/payment"
