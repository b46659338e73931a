"""A private Kafka, MariaDB and MinIO for the fault tests, and the platform running on them.

The shared infrastructure (`make infra-up`) serves other tests at the same time, so these tests
never stop it. deploy/local's own scripts start a second set under a temporary directory on free
ports (`ZSB_INFRA_VAR`, `KAFKA_PORT`, `MARIADB_PORT`, `MINIO_PORT`, ...), which the tests stop,
restart and kill at will. Every service runs on the private MariaDB and keeps its files in the
private MinIO, as in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from sqlalchemy import Engine, create_engine

from services.preferences.tests.helpers import plan_rows, window
from tests.conftest import System, running_system
from zsb.common.settings import REPO_ROOT, SERVICE_NAMES
from zsb.common.supervisor import free_port, load_env_file
from zsb.preferences.v1 import preferences_pb2 as prefs_pb
from zsb.preferences.v1 import preferences_pb2_grpc as prefs_grpc

PARTS = ("kafka", "mariadb", "minio")
SCRIPTS = REPO_ROOT / "deploy" / "local"


@dataclass
class PrivateInfra:
    """Kafka, MariaDB and MinIO of this test session only, driven by deploy/local/<part>.sh."""

    root: Path
    overrides: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.overrides = {
            "ZSB_INFRA_VAR": str(self.root),
            "KAFKA_PORT": str(free_port()),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "MARIADB_PORT": str(free_port()),
            "MINIO_PORT": str(free_port()),
            "MINIO_CONSOLE_PORT": str(free_port()),
        }

    def _run(self, verbs: dict[str, str], timeout: float = 180) -> dict[str, str]:
        """Run `<part>.sh <verb>` for several parts at once; returns each one's stdout."""
        env = {**os.environ, **self.overrides}
        procs = {
            part: subprocess.Popen(
                ["bash", str(SCRIPTS / f"{part}.sh"), verb],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for part, verb in verbs.items()
        }
        out = {}
        for part, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=timeout)
            if proc.returncode:
                raise RuntimeError(f"{part}.sh {verbs[part]} failed ({proc.returncode}):\n{stderr[-3000:]}")
            out[part] = stdout
        return out

    def start(self, *parts: str) -> None:
        self._run(dict.fromkeys(parts or PARTS, "start"))
        if not self.env:
            for text in self._run(dict.fromkeys(PARTS, "env")).values():
                path = self.root / "env.tmp"
                path.write_text(text)
                self.env.update(load_env_file(path))
                path.unlink()

    def stop(self, *parts: str) -> None:
        """Graceful stop (SIGTERM, then wait), as an operator's restart does."""
        self._run(dict.fromkeys(parts or PARTS, "stop"))

    def running(self, part: str) -> bool:
        env = {**os.environ, **self.overrides}
        return (
            subprocess.run(["bash", str(SCRIPTS / f"{part}.sh"), "status"], env=env, capture_output=True).returncode
            == 0
        )

    def kill(self, part: str) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        pid = int((self.root / part / f"{part}.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid):
            time.sleep(0.1)

    @property
    def kafka_bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def mariadb_admin_url(self) -> str:
        return self.env["MARIADB_ADMIN_URL"]

    @property
    def minio_url(self) -> str:
        return self.env["OBJECT_STORE_URL_MINIO"]


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


@pytest.fixture(scope="package")
def private_infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateInfra]:
    infra = PrivateInfra(tmp_path_factory.mktemp("infra"))
    started = time.monotonic()
    try:
        infra.start()
        print(f"private Kafka, MariaDB and MinIO ready in {time.monotonic() - started:.0f} s")
        yield infra
    finally:
        infra.stop()
        shutil.rmtree(infra.root, ignore_errors=True)  # datadirs: a few hundred MB


@dataclass
class Faults:
    """The platform on the private infrastructure, and what the fault tests need around it."""

    system: System
    infra: PrivateInfra
    bearer: Callable[..., tuple]
    _engines: dict[str, Engine] = field(default_factory=dict)

    @property
    def kafka_bootstrap(self) -> str:
        return self.infra.kafka_bootstrap

    def db(self, service: str) -> Engine:
        """An engine on a service's database (pre-ping: it survives a MariaDB restart)."""
        if service not in self._engines:
            self._engines[service] = create_engine(self.system.database_url(service), pool_pre_ping=True)
        return self._engines[service]

    def group(self, name: str) -> str:
        """The consumer group id a subscription named `name` has on this platform."""
        return self.system.platform.procs["auth"].env["KAFKA_GROUP_PREFIX"] + name

    def restart_process(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.system.platform.kill(name, sig)
        self.system.platform.start(name)
        self.system.platform.wait_ready([name], timeout=120)

    def ensure_running(self) -> None:
        """After a test: every part up and every process ready, whatever the test did."""
        down = [p for p in PARTS if not self.infra.running(p)]
        if down:
            self.infra.start(*down)
        platform = self.system.platform
        for name, proc in platform.procs.items():
            if proc.popen is None or proc.popen.poll() is not None:
                platform.start(name)
        platform.wait_ready(list(platform.procs), timeout=180)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def open_preference_window(system: System, bearer: Callable[..., tuple]) -> None:
    """The province's enrollment plan and an open ordinary batch (志愿填报 window)."""
    with system.channel("preferences") as channel:
        stub = prefs_grpc.PreferencesServiceStub(channel)
        meta = bearer("province", "faults")
        assert not stub.ImportPlan(prefs_pb.ImportPlanRequest(rows=plan_rows()), metadata=meta, timeout=60).errors
        opens, closes = window(-1, 6)
        stub.ScheduleBatch(
            prefs_pb.ScheduleBatchRequest(code="ordinary", opens_at=opens, closes_at=closes), metadata=meta, timeout=60
        )


@pytest.fixture(scope="package")
def faults(
    tmp_path_factory: pytest.TempPathFactory,
    private_infra: PrivateInfra,
    pii_keys: dict[str, str],
    token_keys: dict[str, str],
    bearer: Callable[..., tuple],
) -> Iterator[Faults]:
    started = time.monotonic()
    with running_system(
        tmp_path_factory.mktemp("faults"),
        kafka_bootstrap=private_infra.kafka_bootstrap,
        admin_url=private_infra.mariadb_admin_url,
        pii_keys=pii_keys,
        token_keys=token_keys,
        bearer=bearer,
        on_mariadb=SERVICE_NAMES,
        object_store_url=private_infra.minio_url,
        # No face verification in these streams: the worker would only load TensorFlow.
        service_env={"identity": {"IDENTITY_WORKER_ENABLED": "false"}},
    ) as system:
        open_preference_window(system, bearer)
        print(f"fault platform ready in {time.monotonic() - started:.0f} s")
        f = Faults(system, private_infra, bearer)
        try:
            yield f
        finally:
            f.close()


@pytest.fixture
def healthy(faults: Faults) -> Iterator[Faults]:
    """The fault platform, brought back to health after the test whatever it broke."""
    try:
        yield faults
    finally:
        try:
            faults.ensure_running()
        except (RuntimeError, TimeoutError, grpc.RpcError) as exc:  # pragma: no cover - reported, next test fails
            print(f"could not bring the fault platform back: {exc}")
