"""The platform as separate processes: six services and two gateways, health, and the event path."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError

import grpc
import pytest

from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.settings import SERVICE_NAMES
from zsb.common.supervisor import Platform, free_port
from zsb.registration.v1 import registration_pb2, registration_pb2_grpc

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory,
    kafka_bootstrap: str,
    pii_keys: dict[str, str],
    token_keys: dict[str, str],
    infra_env: dict[str, str],
) -> Iterator[Platform]:
    tmp: Path = tmp_path_factory.mktemp("platform")
    base_env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_GROUP_PREFIX": f"sys{uuid.uuid4().hex[:8]}-",
        "OBJECT_STORE_URL": f"file://{tmp / 'objects'}",
        "PII_ENCRYPTION_KEY": pii_keys["pii_encryption_key"],
        "PII_HMAC_KEY": pii_keys["pii_hmac_key"],
        "SECRET_KEY": uuid.uuid4().hex,
        "ACCESS_TOKEN_SIGNING_KEY": token_keys["access_token_signing_key"],
        "ACCESS_TOKEN_PUBLIC_KEY": token_keys["access_token_public_key"],
        "OUTBOX_POLL_SECONDS": "0.05",
    }
    # Auth and registration on MariaDB (production's engine), the others on their SQLite default.
    service_env = {name: {"DATABASE_URL": f"sqlite:///{tmp / name}.db"} for name in SERVICE_NAMES}
    admin = infra_env["MARIADB_ADMIN_URL"]
    from sqlalchemy import create_engine, text

    engine = create_engine(admin)
    for name in ("auth", "registration"):
        db = f"sys_{name}_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4"))
        service_env[name] = {"DATABASE_URL": f"{admin.rstrip('/')}/{db}?charset=utf8mb4"}
    p = Platform(
        base_env=base_env,
        log_dir=tmp / "log",
        service_ports={name: free_port() for name in SERVICE_NAMES},
        gateway_ports=[free_port(), free_port()],
        service_env=service_env,
    )
    try:
        p.start_all(timeout=120)
        yield p
    finally:
        p.stop_all()
        with engine.begin() as conn:
            for env in service_env.values():
                if env["DATABASE_URL"].startswith("mysql"):
                    conn.execute(
                        text(f"DROP DATABASE IF EXISTS `{env['DATABASE_URL'].rsplit('/', 1)[1].split('?')[0]}`")
                    )
        engine.dispose()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read()
    except HTTPError as err:
        return err.code, err.read()


def gateway_url(platform: Platform, i: int = 0) -> str:
    return f"http://127.0.0.1:{platform.gateway_ports[i]}"


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


def test_every_gateway_is_ready_with_all_services_serving(platform: Platform) -> None:
    for i in range(2):
        status, body = get(gateway_url(platform, i) + "/readyz")
        assert status == 200
        assert json.loads(body)["services"] == dict.fromkeys(SERVICE_NAMES, "SERVING")


def test_login_page_answers_in_chinese(platform: Platform) -> None:
    status, body = get(gateway_url(platform) + "/")
    text = body.decode()
    assert status == 200
    for words in (
        "考生登录",
        "考生号",
        "验证码",
        "报名操作流程",
        "网上报名咨询电话",
        "考生使用说明",
        "山西省招生考试管理中心",
    ):
        assert words in text


def test_account_created_in_auth_reaches_registration(platform: Platform, bearer) -> None:
    serial = f"{uuid.uuid4().int % 9000 + 1000:04d}"
    number = f"2114510113{serial}"
    with grpc.insecure_channel(f"127.0.0.1:{platform.service_ports['auth']}") as ch:
        resp = auth_pb2_grpc.AuthServiceStub(ch).CreateCandidateAccounts(
            auth_pb2.CreateCandidateAccountsRequest(
                rows=[
                    auth_pb2.CandidateRow(
                        candidate_no=number,
                        name="赵六",
                        id_number="140105199001011238",
                        phone="13900000000",
                        point_code="0113",
                    )
                ]
            ),
            timeout=30,
            metadata=bearer("point", "p0113", "01", "0113"),
        )
    assert not resp.errors
    with grpc.insecure_channel(f"127.0.0.1:{platform.service_ports['registration']}") as ch:
        stub = registration_pb2_grpc.RegistrationServiceStub(ch)

        def found() -> registration_pb2.Candidate | None:
            try:
                return stub.GetCandidate(
                    registration_pb2.GetCandidateRequest(candidate_no=number),
                    timeout=5,
                    metadata=bearer("candidate", number, "01", "0113"),
                )
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
                return None

        candidate = wait_for(found)
    assert (candidate.name, candidate.point_code, candidate.status) == ("赵六", "0113", "not_started")


def test_readiness_follows_a_killed_service(platform: Platform) -> None:
    platform.kill("results", signal.SIGKILL)
    status, body = get(gateway_url(platform) + "/readyz")
    assert status == 503 and json.loads(body)["services"]["results"] != "SERVING"
    platform.start("results")
    platform.wait_ready(["results"], timeout=60)
    assert get(gateway_url(platform) + "/readyz")[0] == 200
