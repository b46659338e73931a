"""Wiring of one service process: database, migrations, gRPC server, outbox relay, consumers.

Every service's `main.py` declares a `ServiceSpec` and calls `run_service`; tests start the
same `ServiceRuntime` in-process on a free port.
"""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import grpc
from prometheus_client import start_http_server

from zsb.common.consumer import IdempotentConsumer, Subscription
from zsb.common.db import Database
from zsb.common.discovery import Discovery, make_discovery
from zsb.common.events import configure_topics
from zsb.common.grpc_client import Channels
from zsb.common.grpc_server import Registrar, build_server
from zsb.common.logging import configure_logging
from zsb.common.migrations import upgrade_to_head
from zsb.common.objectstore import ObjectStore, open_object_store
from zsb.common.outbox import OutboxRelay
from zsb.common.pii import PiiProtector
from zsb.common.principal import TokenVerifier
from zsb.common.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """What a service's use cases need from the process, built once."""

    settings: Settings
    db: Database
    discovery: Discovery
    channels: Channels

    @property
    def name(self) -> str:
        return self.settings.service_name

    @cached_property
    def pii(self) -> PiiProtector:
        if not (self.settings.pii_encryption_key and self.settings.pii_hmac_key):
            raise RuntimeError("PII_ENCRYPTION_KEY and PII_HMAC_KEY must be set")
        return PiiProtector(self.settings.pii_encryption_key, self.settings.pii_hmac_key)

    @cached_property
    def token_verifier(self) -> TokenVerifier:
        return TokenVerifier(self.settings.access_token_public_key)

    def object_store(self, purpose: str) -> ObjectStore:
        """This service's private bucket for one purpose, e.g. bucket 'zsb-identity-photos'."""
        return open_object_store(self.settings.resolved_object_store_url(), f"zsb-{self.name}-{purpose}")


@dataclass
class ServiceSpec:
    name: str
    migrations_dir: Path
    registrars: Callable[[ServiceContext], list[Registrar]]
    subscriptions: Callable[[ServiceContext], list[Subscription]] = field(default=lambda _ctx: [])
    # Methods callable without an access token (full names), e.g. login and captcha.
    public_methods: frozenset[str] = frozenset()


class ServiceRuntime:
    """Start and stop one service: the same code in `main` and in integration tests."""

    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self.server: grpc.Server | None = None
        self.port = 0
        self.instance_id = f"{spec.name}-{uuid.uuid4().hex[:8]}"
        configure_topics(settings.kafka_topic_prefix)
        db = Database(settings.resolved_database_url())
        discovery = make_discovery(settings)
        self.ctx = ServiceContext(settings=settings, db=db, discovery=discovery, channels=Channels(discovery))

    def start(self) -> int:
        """Migrate, serve gRPC, start relay and consumers; returns the bound port."""
        s = self.settings
        if s.migrate_on_start:
            upgrade_to_head(self.spec.migrations_dir, self.ctx.db.engine)
        if not s.access_token_public_key:
            raise RuntimeError("ACCESS_TOKEN_PUBLIC_KEY must be set: services verify every caller")
        self.server, self.port, self._health = build_server(
            self.spec.registrars(self.ctx),
            s.grpc_bind,
            s.resolved_grpc_port(),
            verifier=TokenVerifier(s.access_token_public_key),
            public_methods=self.spec.public_methods,
        )
        self.server.start()
        relay = OutboxRelay(self.ctx.db, s.service_name, s.kafka_bootstrap_servers)
        self._spawn(f"{self.spec.name}-relay", lambda: relay.run(self.stop_event, s.outbox_poll_seconds))
        for sub in self.spec.subscriptions(self.ctx):
            sub.group = s.kafka_group_prefix + sub.group
            consumer = IdempotentConsumer(self.ctx.db, sub, s.kafka_bootstrap_servers, s.consumer_max_attempts)
            self._spawn(f"{sub.group}-consumer", lambda c=consumer: c.run(self.stop_event))
        self.ctx.discovery.register(s.service_name, self.instance_id, s.grpc_advertise_host, self.port)
        log.info("service started", extra={"port": self.port, "instance": self.instance_id})
        return self.port

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls, finish those in flight, then stop relay and consumers."""
        self.ctx.discovery.deregister(self.instance_id)
        if self.server is not None:
            self._health.enter_graceful_shutdown()
            self.server.stop(grace).wait()
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self.ctx.channels.close()
        self.ctx.db.dispose()
        log.info("service stopped")

    def serving(self) -> bool:
        return self.server is not None and self._health is not None and not self.stop_event.is_set()


def run_service(spec: ServiceSpec, make_runtime: Callable[[Settings], ServiceRuntime] | None = None) -> None:
    """Entry point of a service process: runs until SIGTERM or SIGINT.

    `make_runtime` builds a ServiceRuntime subclass for services with threads of their own
    (identity's verification worker, payment's jobs); by default the plain runtime.
    """
    settings = Settings(service_name=spec.name)
    configure_logging(spec.name, settings.log_level)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.grpc_bind)
    runtime = make_runtime(settings) if make_runtime else ServiceRuntime(spec, settings)
    runtime.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    runtime.stop()


__all__ = ["ServiceContext", "ServiceRuntime", "ServiceSpec", "run_service"]
