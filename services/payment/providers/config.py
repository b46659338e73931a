"""Provider settings from the environment (PAYMENT_*). Keys and certificates are files, never in the repo.

`python -m services.payment.sandbox` writes a complete set for the local sandbox to
var/sandbox/client.env; production sets the real merchant's values.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.payment.providers.base import ProviderConfigError


class PaymentProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", case_sensitive=False, extra="ignore")

    providers: str = Field("wechat,alipay,unionpay", description="enabled providers, comma-separated")
    http_timeout_seconds: float = 10.0

    # WeChat Pay API v3 (direct merchant, Native pay).
    wechat_base_url: str = "https://api.mch.weixin.qq.com"
    wechat_mchid: str = ""
    wechat_appid: str = ""
    wechat_merchant_key_file: str = Field("", description="our API private key (apiclient_key.pem)")
    wechat_merchant_serial: str = Field("", description="serial number (hex) of our API certificate")
    wechat_apiv3_key: str = Field("", description="APIv3 key: 32 ASCII characters (secret)")
    wechat_platform_cert_dir: str = Field("", description="directory of trusted platform certificates (*.pem)")
    wechat_notify_max_age_seconds: int = Field(300, description="older Wechatpay-Timestamp is rejected")

    # Alipay open platform (public-key mode, RSA2).
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_app_id: str = ""
    alipay_seller_id: str = Field("", description="our merchant's Alipay user id (2088...)")
    alipay_app_private_key_file: str = ""
    alipay_public_key_file: str = Field("", description="Alipay's public key (PEM)")
    alipay_product: str = Field("page", description="page (alipay.trade.page.pay) | precreate (QR)")
    alipay_notify_max_age_seconds: int = Field(
        90000, description="older notify_time is rejected; must exceed Alipay's 25h retry span"
    )

    # UnionPay online gateway (ACP 5.1.0, signMethod 01).
    unionpay_base_url: str = "https://gateway.95516.com"
    unionpay_file_url: str = "https://filedownload.95516.com/"
    unionpay_mer_id: str = ""
    unionpay_sign_cert_file: str = Field("", description="our signing key and certificate (PKCS#12 .pfx)")
    unionpay_sign_cert_password: str = ""
    unionpay_root_cert_file: str = Field("", description="UnionPay's root certificate (acp_prod_root.cer)")
    unionpay_middle_cert_file: str = Field("", description="UnionPay's middle certificate (acp_prod_middle.cer)")
    unionpay_cert_owner: str = Field(
        "中国银联股份有限公司", description="the owner part of a genuine signing certificate's CN"
    )

    def enabled(self) -> list[str]:
        return [p.strip() for p in self.providers.split(",") if p.strip()]


def read_file(setting: str, value: str) -> bytes:
    """The bytes of a configured key/certificate file, or a clear configuration error."""
    if not value:
        raise ProviderConfigError(f"PAYMENT_{setting.upper()} is not set")
    path = Path(value)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProviderConfigError(f"PAYMENT_{setting.upper()}: cannot read {path}: {exc}") from exc


def require(setting: str, value: str) -> str:
    if not value:
        raise ProviderConfigError(f"PAYMENT_{setting.upper()} is not set")
    return value
