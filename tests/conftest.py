"""The platform started as separate processes for whole-system and browser tests (one per session)."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.error import HTTPError

import grpc
import pytest
from sqlalchemy import create_engine, text

from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.settings import SERVICE_NAMES
from zsb.common.supervisor import Platform, free_port

T = TypeVar("T")
# Services on MariaDB (production's engine); the others stay on their SQLite default.
ON_MARIADB = ("auth", "registration", "payment")


@dataclass
class System:
    platform: Platform
    tmp: Path
    bearer: Callable[..., tuple]
    topic_prefix: str = ""

    def topic(self, service: str) -> str:
        """The topic the platform's processes use for a service's events."""
        return f"{self.topic_prefix}zsb.{service}.v1.events"

    def database_url(self, service: str) -> str:
        return self.platform.procs[service].env["DATABASE_URL"]

    @property
    def answers(self) -> Path:
        return self.tmp / "captcha-answers.txt"

    @property
    def sms(self) -> Path:
        return self.tmp / "sms.jsonl"

    def url(self, path: str = "/", gateway: int = 0) -> str:
        return f"http://127.0.0.1:{self.platform.gateway_ports[gateway]}{path}"

    def channel(self, service: str) -> grpc.Channel:
        return grpc.insecure_channel(f"127.0.0.1:{self.platform.service_ports[service]}")

    def import_candidate(self, name: str = "赵六", phone: str = "13900000000") -> tuple[str, str]:
        """A new candidate of point 0113 with a fresh 考生号; returns (考生号, initial password)."""
        number = f"2114510113{uuid.uuid4().int % 9000 + 1000:04d}"
        with self.channel("auth") as ch:
            resp = auth_pb2_grpc.AuthServiceStub(ch).CreateCandidateAccounts(
                auth_pb2.CreateCandidateAccountsRequest(
                    rows=[
                        auth_pb2.CandidateRow(
                            candidate_no=number,
                            name=name,
                            id_number="140105199001011238",
                            phone=phone,
                            point_code="0113",
                        )
                    ]
                ),
                timeout=30,
                metadata=self.bearer("province", "admin"),
            )
        if resp.errors and resp.errors[0].message.startswith("考生号已存在"):
            return self.import_candidate(name, phone)
        assert not resp.errors, resp.errors
        return number, resp.accounts[0].initial_password


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read()
    except HTTPError as err:
        return err.code, err.read()


def wait_for(predicate: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


@contextmanager
def running_system(
    tmp: Path,
    *,
    kafka_bootstrap: str,
    admin_url: str,
    pii_keys: dict[str, str],
    token_keys: dict[str, str],
    bearer: Callable[..., tuple],
    on_mariadb: tuple[str, ...] = ON_MARIADB,
    object_store_url: str = "",
    service_env: dict[str, dict[str, str]] | None = None,
) -> Iterator[System]:
    """Six services, two gunicorn gateways and the payment sandbox as processes, on the given
    Kafka and MariaDB (the services in `on_mariadb` get a scratch database each, the others a
    SQLite file); objects in `object_store_url` or a local directory. `service_env` adds to a
    service's environment. Stops everything and drops the scratch databases at the end."""
    topic_prefix = f"run{uuid.uuid4().hex[:8]}."
    base_env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_GROUP_PREFIX": f"sys{uuid.uuid4().hex[:8]}-",
        # Topics of this run only: its consumers start on empty topics, not on every earlier test's events.
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "OBJECT_STORE_URL": object_store_url or f"file://{tmp / 'objects'}",
        "PII_ENCRYPTION_KEY": pii_keys["pii_encryption_key"],
        "PII_HMAC_KEY": pii_keys["pii_hmac_key"],
        "SECRET_KEY": uuid.uuid4().hex,
        "ACCESS_TOKEN_SIGNING_KEY": token_keys["access_token_signing_key"],
        "ACCESS_TOKEN_PUBLIC_KEY": token_keys["access_token_public_key"],
        "OUTBOX_POLL_SECONDS": "0.05",
        "CAPTCHA_ANSWER_SINK": str(tmp / "captcha-answers.txt"),
        "SMS_SINK_PATH": str(tmp / "sms.jsonl"),
        "LOG_LEVEL": "INFO",
    }
    envs = {name: {"DATABASE_URL": f"sqlite:///{tmp / name}.db"} for name in SERVICE_NAMES}
    engine = create_engine(admin_url, pool_pre_ping=True)  # the fault tests restart MariaDB
    databases = []
    for name in on_mariadb:
        db = f"sys_{name}_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4"))
        databases.append(db)
        envs[name] = {"DATABASE_URL": f"{admin_url.rstrip('/')}/{db}?charset=utf8mb4"}
    # Payment's jobs (queries when no notification comes) on a short clock.
    envs["payment"].update(
        {
            "PAYMENT_JOBS_INTERVAL_SECONDS": "0.5",
            "PAYMENT_QUERY_BACKOFF_SECONDS": "1",
            "PAYMENT_CLOSE_GRACE_SECONDS": "0",
        }
    )
    for name, extra in (service_env or {}).items():
        envs[name].update(extra)
    platform = Platform(
        base_env=base_env,
        log_dir=tmp / "log",
        service_ports={name: free_port() for name in SERVICE_NAMES},
        gateway_ports=[free_port(), free_port()],
        service_env=envs,
    )
    platform.add_payment_sandbox(port=free_port(), state_dir=tmp / "sandbox", retry_scale=0.01)
    try:
        platform.start_all(timeout=180)
        yield System(platform, tmp, bearer, topic_prefix)
    finally:
        platform.stop_all()
        with engine.begin() as conn:
            for db in databases:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{db}`"))
        engine.dispose()


@pytest.fixture(scope="session")
def system(
    tmp_path_factory: pytest.TempPathFactory,
    kafka_bootstrap: str,
    pii_keys: dict[str, str],
    token_keys: dict[str, str],
    infra_env: dict[str, str],
    minio_url: str,
    bearer: Callable[..., tuple],
) -> Iterator[System]:
    with running_system(
        tmp_path_factory.mktemp("system"),
        kafka_bootstrap=kafka_bootstrap,
        admin_url=infra_env["MARIADB_ADMIN_URL"],
        pii_keys=pii_keys,
        token_keys=token_keys,
        bearer=bearer,
        # Production's object store: private MinIO buckets (object keys begin with a 考生号).
        object_store_url=minio_url,
    ) as running:
        yield running
