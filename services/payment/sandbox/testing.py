"""Test support: run the sandbox as a real process, and a small receiver playing our notify endpoint.

    with SandboxProcess.start(tmp_path / "sandbox", retry_scale=0.002) as sandbox:
        settings = sandbox.settings()                 # PaymentProviderSettings for our clients
        with NotifyReceiver(build_clients(settings)) as receiver:
            ...receiver.url("wechat")...                # notify_url to give the provider

The receiver does what the real callback must do: verify with the provider client, find the
order, check it, deduplicate, reply the provider's documented success or failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from services.payment.providers.base import (
    Notification,
    NotificationKind,
    NotificationRejected,
    Provider,
    ProviderClient,
    UnknownOrder,
    check_against_order,
    check_refund_against,
)
from services.payment.providers.config import PaymentProviderSettings
from services.payment.sandbox.keys import client_settings

REPO_ROOT = Path(__file__).resolve().parents[3]


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy and return it; fail with AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class SandboxProcess:
    process: subprocess.Popen[bytes]
    state_dir: Path
    base_url: str

    @classmethod
    @contextmanager
    def start(cls, state_dir: Path, retry_scale: float = 0.002) -> Iterator[SandboxProcess]:
        state_dir.mkdir(parents=True, exist_ok=True)
        port_file = state_dir / "port"
        port_file.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'libs'}{os.pathsep}{REPO_ROOT}"}
        command = [sys.executable, "-m", "services.payment.sandbox", "--port", "0", "--state-dir", str(state_dir)]
        command += ["--retry-scale", str(retry_scale), "--port-file", str(port_file)]
        log = (state_dir / "sandbox.log").open("wb")
        # A fixed command: this interpreter running our own module.
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            port = wait_until(lambda: (port_file.exists() and port_file.read_text().strip()) or process.poll(), 60)
            if process.poll() is not None:
                raise RuntimeError(f"sandbox exited: {(state_dir / 'sandbox.log').read_text()[-2000:]}")
            sandbox = cls(process, state_dir, f"http://127.0.0.1:{port}")
            wait_until(lambda: sandbox._healthy(), 30)
            yield sandbox
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/_sandbox/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def settings(self, **overrides: Any) -> PaymentProviderSettings:
        values = {
            k.removeprefix("PAYMENT_").lower(): v for k, v in client_settings(self.state_dir, self.base_url).items()
        }
        return PaymentProviderSettings(**{**values, **overrides})

    # -------------------------------------------------------- the sandbox-only control API

    def pay(self, provider: str, out_trade_no: str, notify: bool = True) -> requests.Response:
        body = {"provider": provider, "out_trade_no": out_trade_no, "notify": notify}
        return requests.post(f"{self.base_url}/_sandbox/pay", json=body, timeout=10)

    def deliveries(self, provider: str, out_trade_no: str) -> list[dict[str, Any]]:
        params = {"provider": provider, "out_trade_no": out_trade_no}
        return requests.get(f"{self.base_url}/_sandbox/deliveries", params=params, timeout=10).json()["deliveries"]


@dataclass
class Received:
    provider: str
    headers: dict[str, str]
    body: bytes
    status: int
    notification: Notification | None = None
    rejection: NotificationRejected | None = None


@dataclass
class NotifyReceiver:
    """Plays our notification endpoint on loopback (the gateway callback will do the same)."""

    clients: Mapping[Provider, ProviderClient]
    orders: dict[tuple[str, str], int] = field(default_factory=dict)  # (provider, out_trade_no) -> fen
    refunds: dict[tuple[str, str], int] = field(default_factory=dict)  # (provider, out_refund_no) -> fen
    fail_next: dict[str, int] = field(default_factory=dict)  # provider -> replies to fail on purpose
    received: list[Received] = field(default_factory=list)
    handled: dict[str, Notification] = field(default_factory=dict)  # dedup_key -> first notification
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> NotifyReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                provider = self.path.strip("/").split("/")[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, content_type, reply = receiver.handle(provider, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, provider: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/notify/{provider}"

    def handle(self, provider: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        client = self.clients[Provider(provider)]
        record = Received(provider, headers, body, 0)
        with self.lock:
            self.received.append(record)
            if self.fail_next.get(provider, 0) > 0:
                self.fail_next[provider] -= 1
                reply = client.failure_reply("test asked for a failure")
                record.status = reply.status
                return reply.status, reply.content_type, reply.body
        try:
            notification = client.parse_and_verify_notification(headers, body)
            record.notification = notification
            with self.lock:
                amount = self.orders.get((provider, notification.out_trade_no))
                if amount is None:
                    raise UnknownOrder(f"no order {notification.out_trade_no}")
                check_against_order(notification, out_trade_no=notification.out_trade_no, amount_fen=amount)
                if notification.kind is NotificationKind.REFUND and notification.refund is not None:
                    refund_fen = self.refunds.get((provider, notification.refund.out_refund_no))
                    if refund_fen is None:
                        raise UnknownOrder(f"no refund {notification.refund.out_refund_no}")
                    check_refund_against(
                        notification, out_refund_no=notification.refund.out_refund_no, refund_fen=refund_fen
                    )
                self.handled.setdefault(notification.dedup_key, notification)
            reply = client.success_reply()
        except NotificationRejected as rejection:
            record.rejection = rejection
            reply = client.failure_reply(rejection.reason)
        record.status = reply.status
        return reply.status, reply.content_type, reply.body

    def for_order(self, provider: str, out_trade_no: str) -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if r.provider == provider and r.notification and r.notification.out_trade_no == out_trade_no
            ]
