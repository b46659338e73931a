"""Settings from the environment: one class, read once per process.

Every value has an embedded default that `make run` can use; production sets the
environment (see deploy/k8s). Secrets have no default in production mode.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]
VAR_DIR = REPO_ROOT / "var"

# Static gRPC ports of the services on loopback (the embedded default of discovery).
DEFAULT_PORTS: dict[str, int] = {
    "auth": 50051,
    "registration": 50052,
    "identity": 50053,
    "payment": 50054,
    "preferences": 50055,
    "results": 50056,
}
SERVICE_NAMES: tuple[str, ...] = tuple(DEFAULT_PORTS)


class Settings(BaseSettings):
    """The settings a process reads. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    service_name: str = "gateway"
    environment: str = Field("development", description="development | test | production")
    log_level: str = "INFO"

    # Database of this service: SQLite file by default, MySQL/MariaDB through PyMySQL in production.
    database_url: str = ""
    migrate_on_start: bool = True

    # gRPC server of this service.
    grpc_bind: str = "127.0.0.1"
    grpc_port: int | None = Field(None, description="unset: the service's default port; 0: any free port")
    grpc_advertise_host: str = "127.0.0.1"

    # Events.
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    outbox_poll_seconds: float = 0.2
    consumer_max_attempts: int = 5
    kafka_group_prefix: str = Field("", description="prefix of consumer group ids (tests isolate runs with it)")
    kafka_topic_prefix: str = Field("", description="prefix of topic names; empty in production (tests only)")

    # Discovery: static addresses unless a Consul agent is configured.
    consul_http_addr: str = ""
    service_addresses: str = Field(
        "", description="Overrides of static addresses: 'auth=host:port,registration=host:port'"
    )

    # Files: a local directory by default, MinIO in production.
    object_store_url: str = ""

    # Protected data (base64 keys of 32 bytes); make run generates local ones in var/.
    pii_encryption_key: str = ""
    pii_hmac_key: str = ""

    # Access tokens: every service verifies with the public key; only auth holds the signing key.
    access_token_public_key: str = ""
    access_token_signing_key: str = ""

    # SMS (auth): "sink" writes JSON lines to sms_sink_path; "aliyun" sends through Alibaba Cloud SMS.
    sms_provider: str = "sink"
    sms_sink_path: str = ""
    sms_aliyun_access_key_id: str = ""
    sms_aliyun_access_key_secret: str = ""
    sms_aliyun_sign_name: str = ""
    sms_aliyun_template_code: str = ""

    # Test side channel (auth): append "captcha_id answer" lines to this file. Refused in production.
    captcha_answer_sink: str = ""

    # Sessions (auth): the manual's 15 minutes of inactivity, and an absolute limit.
    session_idle_seconds: int = 900
    session_absolute_seconds: int = 8 * 3600

    # Prometheus metrics of this process (0: off).
    metrics_port: int = 0

    # Gateway only.
    gateway_bind: str = "127.0.0.1"
    gateway_port: int = 8000
    secret_key: str = Field("", description="Flask signing key; make run generates a local one")
    ready_services: str = Field(",".join(DEFAULT_PORTS), description="services whose health makes the gateway ready")
    # The footer of every page, as in the manual: the organiser and its postal address.
    footer_organizer: str = "山西省招生考试管理中心"
    footer_address: str = Field("山西省太原市小店区坞城路49号", description="postal address shown in the footer")
    footer_postcode: str = "030006"

    def resolved_database_url(self) -> str:
        """The configured URL, or this service's SQLite file under var/data/."""
        if self.database_url:
            return self.database_url
        path = VAR_DIR / "data" / f"{self.service_name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    def resolved_object_store_url(self) -> str:
        """The configured URL, or a local directory under var/objects/."""
        return self.object_store_url or f"file://{VAR_DIR / 'objects'}"

    def resolved_grpc_port(self) -> int:
        return DEFAULT_PORTS.get(self.service_name, 0) if self.grpc_port is None else self.grpc_port

    def address_overrides(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.service_addresses.split(",") if "=" in item)
        return {name.strip(): addr.strip() for name, addr in pairs}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own `Settings(...)` instead)."""
    return Settings()
