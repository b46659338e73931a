"""pytest fixtures for the real parts: MariaDB, Kafka, MinIO (loaded as a plugin in pyproject).

The local infrastructure is started by `make test` (deploy/local/infra.sh), which writes the
connection settings to var/infra.env. A test that needs a part asks for its fixture; if the
part is not running the test fails with the reason: it is never silently skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from zsb.common.pii import generate_key
from zsb.common.principal import Principal, Role, TokenSigner, generate_keypair
from zsb.common.settings import VAR_DIR, Settings
from zsb.common.supervisor import load_env_file


@pytest.fixture(scope="session")
def infra_env() -> dict[str, str]:
    """The settings deploy/local wrote for the running local infrastructure."""
    env = load_env_file(VAR_DIR / "infra.env")
    env.update({k: v for k, v in os.environ.items() if k.startswith(("MARIADB_", "MINIO_", "KAFKA_", "CONSUL_"))})
    return env


def _need(env: dict[str, str], key: str) -> str:
    if not env.get(key):
        pytest.fail(f"{key} is not set: start the local infrastructure with `make infra-up`")
    return env[key]


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_env: dict[str, str]) -> str:
    return _need(infra_env, "KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(scope="session")
def minio_url(infra_env: dict[str, str]) -> str:
    return _need(infra_env, "OBJECT_STORE_URL_MINIO")


@pytest.fixture
def mariadb_url(infra_env: dict[str, str]) -> Iterator[str]:
    """A scratch database on the local MariaDB, dropped after the test."""
    admin_url = _need(infra_env, "MARIADB_ADMIN_URL")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        yield admin_url.rstrip("/") + f"/{name}?charset=utf8mb4"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite (the embedded default) and once on MariaDB."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(scope="session")
def pii_keys() -> dict[str, str]:
    return {"pii_encryption_key": generate_key(), "pii_hmac_key": generate_key()}


@pytest.fixture(scope="session")
def token_keys() -> dict[str, str]:
    private, public = generate_keypair()
    return {"access_token_signing_key": private, "access_token_public_key": public}


@pytest.fixture(scope="session")
def bearer(token_keys: dict[str, str]):
    """`bearer(role, subject, city, point)` -> gRPC metadata carrying a valid access token."""
    signer = TokenSigner(token_keys["access_token_signing_key"])

    def make(role: Role | str, subject: str = "tester", city_code: str = "", point_code: str = "") -> tuple:
        token = signer.sign(Principal(subject, Role(role), city_code, point_code, "test"))
        return (("authorization", f"Bearer {token}"),)

    return make


@pytest.fixture
def service_settings(tmp_path: Path, kafka_bootstrap: str, pii_keys: dict[str, str], token_keys: dict[str, str]):
    """A factory of Settings for an in-process service on a free port, isolated consumer groups."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"

    def make(service: str, database_url: str, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "service_name": service,
            "database_url": database_url,
            "grpc_port": 0,
            "kafka_bootstrap_servers": kafka_bootstrap,
            "kafka_group_prefix": prefix,
            "object_store_url": f"file://{tmp_path / 'objects'}",
            "outbox_poll_seconds": 0.05,
            "sms_sink_path": str(tmp_path / "sms.jsonl"),
            "captcha_answer_sink": str(tmp_path / "captcha-answers.txt"),
            **pii_keys,
            **token_keys,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


def captcha_answer(sink: Path, captcha_id: str) -> str:
    """The answer of a captcha, read from the auth service's test side channel."""
    for line in reversed(sink.read_text(encoding="utf-8").splitlines()):
        cid, _, answer = line.partition(" ")
        if cid == captcha_id:
            return answer
    raise AssertionError(f"captcha {captcha_id} not in {sink}")


def sms_codes(sink: Path, phone: str) -> list[str]:
    """Codes sent to a phone, oldest first, read from the SMS sink."""
    import json

    if not sink.exists():
        return []
    lines = [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines() if line]
    return [m["code"] for m in lines if m["phone"] == phone]
