"""The sandbox as one more process of `make run` and the system tests (the supervisor calls this).

    sandbox = local_sandbox(sys.executable, gateway_url="http://127.0.0.1:8000")
    # a process: sandbox.argv, ready when GET sandbox.ready_url answers 200
    # the payment service's environment: sandbox.payment_env (PAYMENT_* pointing at it)

The TEST keys are generated (once) before this returns, so the payment service may start before
or after the sandbox: its clients read the key files, they do not call the sandbox to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.payment.sandbox.keys import SandboxKeys, client_settings, write_client_env
from zsb.common.settings import VAR_DIR

DEFAULT_PORT = 18080


@dataclass(frozen=True)
class LocalSandbox:
    base_url: str
    argv: list[str]
    ready_url: str
    env_file: Path  # the same settings as payment_env, for tools that read env files
    payment_env: dict[str, str]


def local_sandbox(
    python: str,
    gateway_url: str,
    port: int = DEFAULT_PORT,
    state_dir: Path = VAR_DIR / "sandbox",
    retry_scale: float = 1.0,
) -> LocalSandbox:
    """What it takes to run the sandbox on loopback `port` for a gateway at `gateway_url`."""
    base_url = f"http://127.0.0.1:{port}"
    SandboxKeys.load_or_create(state_dir)
    env_file = write_client_env(state_dir, base_url)
    payment_env = {**client_settings(state_dir, base_url), "PAYMENT_PUBLIC_BASE_URL": gateway_url.rstrip("/")}
    argv = [python, "-m", "services.payment.sandbox", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--state-dir", str(state_dir), "--retry-scale", str(retry_scale)]
    return LocalSandbox(base_url, argv, f"{base_url}/_sandbox/health", env_file, payment_env)
