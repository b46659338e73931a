"""Start the platform as separate processes: six services and the gateway.

Used by `make run` (the command line below) and by the system tests, so both exercise
the same processes, environment and readiness checks.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zsb.common.settings import DEFAULT_PORTS, REPO_ROOT, SERVICE_NAMES, VAR_DIR, Settings
from zsb.common.topics import create_platform_topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def grpc_serving(address: str, timeout: float = 1.0) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            return resp.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URL we built
            return resp.status == 200
    except OSError:
        return False


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_check: str  # "grpc:host:port" or an http URL
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def is_ready(self) -> bool:
        if self.ready_check.startswith("grpc:"):
            return grpc_serving(self.ready_check[5:])
        return http_ok(self.ready_check)


@dataclass
class Platform:
    """The processes of one platform instance, each with its own environment and log file."""

    base_env: dict[str, str]
    log_dir: Path
    service_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    gateway_ports: list[int] = field(default_factory=lambda: [8000])
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        addresses = ",".join(f"{n}=127.0.0.1:{p}" for n, p in self.service_ports.items())
        python = sys.executable
        for name, port in self.service_ports.items():
            env = {**self.base_env, "SERVICE_NAME": name, "GRPC_PORT": str(port), "SERVICE_ADDRESSES": addresses}
            env.update(self.service_env.get(name, {}))
            self.procs[name] = Proc(
                name,
                [python, "-m", f"services.{name}.main"],
                env,
                f"grpc:127.0.0.1:{port}",
                self.log_dir / f"{name}.log",
            )
        for i, port in enumerate(self.gateway_ports):
            name = "gateway" if i == 0 else f"gateway{i + 1}"
            env = {**self.base_env, "SERVICE_NAME": "gateway", "SERVICE_ADDRESSES": addresses}
            argv = [
                python,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--graceful-timeout",
                "5",
                "gateway.wsgi:app",
            ]
            self.procs[name] = Proc(name, argv, env, f"http://127.0.0.1:{port}/healthz", self.log_dir / f"{name}.log")

    def add_process(self, name: str, argv: list[str], ready_check: str, env: dict[str, str] | None = None) -> None:
        """One more process of the platform (e.g. the payment provider sandbox)."""
        self.procs[name] = Proc(name, argv, {**self.base_env, **(env or {})}, ready_check, self.log_dir / f"{name}.log")

    def add_payment_sandbox(self, port: int, state_dir: Path, retry_scale: float = 1.0) -> None:
        """The local stand-in for WeChat Pay, Alipay and UnionPay, and the payment service pointed at it."""
        from services.payment.sandbox.local import local_sandbox

        sandbox = local_sandbox(
            sys.executable,
            f"http://127.0.0.1:{self.gateway_ports[0]}",
            port=port,
            state_dir=state_dir,
            retry_scale=retry_scale,
        )
        self.procs["payment"].env.update(sandbox.payment_env)
        self.add_process("payment-sandbox", sandbox.argv, sandbox.ready_url)

    def start(self, name: str) -> None:
        proc = self.procs[name]
        log = open(proc.log_path, "ab")  # noqa: SIM115 - handed to the child, closed by the OS at exit
        env = {**proc.env, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "libs"), str(REPO_ROOT)])}
        proc.popen = subprocess.Popen(proc.argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603

    def start_all(self, timeout: float = 90.0) -> None:
        # Topics before consumers: see zsb.common.topics.
        default = Settings.model_fields["kafka_bootstrap_servers"].default
        bootstrap = self.base_env.get("KAFKA_BOOTSTRAP_SERVERS", default)
        create_platform_topics(bootstrap, self.base_env.get("KAFKA_TOPIC_PREFIX", ""))
        for name in self.procs:
            self.start(name)
        self.wait_ready(list(self.procs), timeout)

    def wait_ready(self, names: list[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                proc = self.procs[name]
                if proc.popen is not None and proc.popen.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.popen.returncode}; see {proc.log_path}")
                if proc.is_ready():
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {pending}; logs in {self.log_dir}")
            if pending:
                time.sleep(0.2)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        if proc.popen is not None and proc.popen.poll() is None:
            proc.popen.send_signal(sig)
            proc.popen.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in self.procs.values():
            if proc.popen is not None:
                try:
                    proc.popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait()


def load_env_file(path: Path) -> dict[str, str]:
    """Read `export KEY=value` / `KEY=value` lines (the files deploy/local writes)."""
    env: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip().removeprefix("export ").strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value.strip().strip("'\"")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the platform locally until Ctrl-C.")
    parser.add_argument("--env-file", action="append", default=[], type=Path, help="extra environment files")
    parser.add_argument("--seed", action="store_true", help="seed demo data once the platform is ready")
    args = parser.parse_args()
    env = dict(os.environ)
    for path in args.env_file:
        env.update(load_env_file(path))
    platform = Platform(base_env=env, log_dir=VAR_DIR / "log")
    platform.add_payment_sandbox(port=18080, state_dir=VAR_DIR / "sandbox")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        platform.start_all()
        accounts: list[str] = []
        if args.seed:
            # The auth service's own command: the demo accounts go through its use cases.
            seeded = subprocess.run(  # noqa: S603 - a fixed command
                [sys.executable, "-m", "services.auth.cli", "seed-demo"],
                env={
                    **platform.procs["auth"].env,
                    "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "libs"), str(REPO_ROOT)]),
                },
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            accounts = (seeded.stdout or seeded.stderr).splitlines()
        print(f"\n网关已启动 / gateway ready: http://127.0.0.1:{platform.gateway_ports[0]}/", flush=True)
        print(f"services: {', '.join(SERVICE_NAMES)}; logs in {platform.log_dir}", flush=True)
        for line in accounts:
            print(line, flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for proc in platform.procs.values():
                if proc.popen is not None and proc.popen.poll() is not None:
                    print(f"{proc.name} exited ({proc.popen.returncode}); see {proc.log_path}", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        platform.stop_all()


if __name__ == "__main__":
    main()
