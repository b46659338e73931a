"""The sandbox's memory: orders, refunds and notification deliveries, plus the delivery scheduler.

Everything lives in this process (a restart forgets it, as a fresh test account would). One
lock guards all of it; HTTP handlers and the scheduler thread share it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

log = logging.getLogger("payment.sandbox")

# Seconds between attempts when our reply is not a success, as each provider documents.
RETRY_SCHEDULES: dict[str, tuple[int, ...]] = {
    # 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (24h4m in all)
    "wechat": (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600),
    # 4m/10m/10m/1h/2h/6h/15h (8 notifications within 25h)
    "alipay": (240, 600, 600, 3600, 7200, 21600, 54000),
    # UnionPay: growing intervals; the exact figures are not published in our sources (see docs)
    "unionpay": (60, 120, 240, 480, 960),
}


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    amount_fen: int
    created_at: datetime
    notify_url: str
    reason: str = ""
    status: str = "PROCESSING"  # PROCESSING | SUCCESS
    succeeded_at: datetime | None = None
    txn_time: str = ""  # UnionPay: the refund request's txnTime


@dataclass
class Order:
    provider: str
    out_trade_no: str
    amount_fen: int
    description: str
    notify_url: str
    expires_at: datetime
    created_at: datetime
    return_url: str = ""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    status: str = "NOTPAY"  # NOTPAY | SUCCESS | CLOSED
    trade_no: str = ""
    paid_at: datetime | None = None
    txn_time: str = ""  # UnionPay: the merchant's txnTime, part of the order's identity
    trace: dict[str, str] = field(default_factory=dict)  # UnionPay: traceNo/traceTime/settleDate of the payment
    refunds: dict[str, Refund] = field(default_factory=dict)

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds.values())

    def expired(self, moment: datetime) -> bool:
        return moment >= self.expires_at


@dataclass
class Attempt:
    at: datetime
    status: int
    body: str
    ok: bool


@dataclass
class Delivery:
    id: int
    provider: str
    url: str
    kind: str  # payment | refund
    out_trade_no: str
    build: Callable[[], tuple[dict[str, str], bytes]]  # headers and body of one attempt
    is_ok: Callable[[requests.Response], bool]
    attempts: list[Attempt] = field(default_factory=list)
    done: bool = False
    gave_up: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "url": self.url,
            "kind": self.kind,
            "out_trade_no": self.out_trade_no,
            "done": self.done,
            "gave_up": self.gave_up,
            "attempts": [
                {"at": a.at.isoformat(), "status": a.status, "body": a.body[:200], "ok": a.ok} for a in self.attempts
            ],
        }


class SandboxState:
    """Orders by (provider, out_trade_no), deliveries, and timed jobs run by one thread."""

    def __init__(self, retry_scale: float = 1.0) -> None:
        self.lock = threading.RLock()
        self.orders: dict[tuple[str, str], Order] = {}
        self.deliveries: list[Delivery] = []
        self.retry_scale = retry_scale
        self._jobs: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count(1)
        self._wake = threading.Condition(self.lock)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sandbox-scheduler", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ orders

    def order(self, provider: str, out_trade_no: str) -> Order | None:
        with self.lock:
            return self.orders.get((provider, out_trade_no))

    def by_token(self, token: str) -> Order | None:
        with self.lock:
            return next((o for o in self.orders.values() if o.token == token), None)

    def add(self, order: Order) -> Order:
        with self.lock:
            self.orders[(order.provider, order.out_trade_no)] = order
            return order

    def trade_no(self, prefix: str) -> str:
        return prefix + now_utc().strftime("%Y%m%d") + f"{secrets.randbelow(10**12):012d}"

    # ------------------------------------------------------------ scheduling

    def later(self, seconds: float, job: Callable[[], None]) -> None:
        """Run job on the scheduler thread after `seconds` (already scaled by the caller)."""
        with self.lock:
            heapq.heappush(self._jobs, (now_utc() + timedelta(seconds=seconds), next(self._seq), job))
            self._wake.notify()

    def deliver(
        self,
        provider: str,
        url: str,
        kind: str,
        out_trade_no: str,
        build: Callable[[], tuple[dict[str, str], bytes]],
        is_ok: Callable[[requests.Response], bool],
    ) -> Delivery:
        """Send a notification now, and again on the provider's schedule until our reply is a success."""
        with self.lock:
            delivery = Delivery(next(self._seq), provider, url, kind, out_trade_no, build, is_ok)
            self.deliveries.append(delivery)
        self.later(0, lambda: self._attempt(delivery))
        return delivery

    def _attempt(self, delivery: Delivery) -> None:
        headers, body = delivery.build()
        try:
            response = requests.post(delivery.url, data=body, headers=headers, timeout=10)
            attempt = Attempt(now_utc(), response.status_code, response.text, delivery.is_ok(response))
        except requests.RequestException as exc:
            attempt = Attempt(now_utc(), 0, f"{type(exc).__name__}: {exc}", False)
        schedule = RETRY_SCHEDULES[delivery.provider]
        with self.lock:
            delivery.attempts.append(attempt)
            retries_done = len(delivery.attempts) - 1
            if attempt.ok:
                delivery.done = True
            elif retries_done >= len(schedule):
                delivery.gave_up = True
        log.info(
            "notification %s %s attempt %d -> %s %s",
            delivery.provider,
            delivery.out_trade_no,
            len(delivery.attempts),
            attempt.status,
            "ok" if attempt.ok else "retry",
        )
        if not attempt.ok and not delivery.gave_up:
            self.later(schedule[retries_done] * self.retry_scale, lambda: self._attempt(delivery))

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self._stopped and (not self._jobs or self._jobs[0][0] > now_utc()):
                    timeout = (self._jobs[0][0] - now_utc()).total_seconds() if self._jobs else None
                    self._wake.wait(timeout=max(timeout, 0) if timeout is not None else None)
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._jobs)
            try:
                job()
            except Exception:  # a job's failure must not stop the scheduler
                log.exception("sandbox job failed")

    def stop(self) -> None:
        with self.lock:
            self._stopped = True
            self._wake.notify()
