"""The identity service in-process on loopback, called over gRPC like the gateway calls it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from sqlalchemy import select

from services.identity.main import IdentityRuntime
from services.identity.service.app import IdentityApp
from services.identity.service.projection import record_abandoned, record_confirmed
from services.identity.settings import IdentitySettings
from services.identity.tests.support import Clock
from zsb.common.events import decode
from zsb.common.tables import outbox
from zsb.identity.v1 import identity_pb2 as pb
from zsb.identity.v1 import identity_pb2_grpc

CANDIDATE = "21145101130001"  # point 0113, city 01
OTHER = "21145101130002"


@dataclass
class Harness:
    runtime: IdentityRuntime
    bearer: Callable[..., tuple]
    clock: Clock
    engine: Any
    _channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.runtime.port}")
        self.stub = identity_pb2_grpc.IdentityServiceStub(self._channel)

    @property
    def app(self) -> IdentityApp:
        return self.runtime.app

    def close(self) -> None:
        self._channel.close()

    # --- who calls ---------------------------------------------------------------------------

    def candidate(self, number: str = CANDIDATE) -> tuple:
        return self.bearer("candidate", number, number[6:8], number[6:10])

    def staff(self, role: str, city: str = "", point: str = "", name: str = "reviewer1") -> tuple:
        return self.bearer(role, name, city, point)

    def call(self, method: str, request: Message, who: tuple, timeout: float = 60) -> Any:
        return getattr(self.stub, method)(request, metadata=who, timeout=timeout)

    def refused(self, method: str, request: Message, who: tuple) -> tuple[grpc.StatusCode, str, str]:
        """(code, reason, message) of a call that must fail."""
        with pytest.raises(grpc.RpcError) as err:
            self.call(method, request, who)
        trailers = dict(err.value.trailing_metadata() or ())
        return err.value.code(), trailers.get("x-error-reason", ""), err.value.details()

    # --- the candidate's steps -------------------------------------------------------------------

    def confirm(self, number: str = CANDIDATE, name: str = "张三") -> None:
        """Registration's 信息确认 as its event would record it (the consumer has its own test)."""
        with self.runtime.ctx.db.unit_of_work() as session:
            record_confirmed(session, number, name, number[6:8], number[6:10], self.clock())

    def abandon(self, number: str = CANDIDATE) -> None:
        with self.runtime.ctx.db.unit_of_work() as session:
            record_abandoned(session, number, "", "", self.clock())

    def view(self, number: str = CANDIDATE) -> pb.IdentityView:
        return self.call("GetMyIdentity", pb.GetMyIdentityRequest(), self.candidate(number))

    def consent(self, number: str = CANDIDATE) -> pb.IdentityView:
        version = self.view(number).consent.version
        return self.call("GiveConsent", pb.GiveConsentRequest(version=version), self.candidate(number))

    def upload(
        self, kind: str, data: bytes, number: str = CANDIDATE, filename: str = "photo.jpg", declared: str = "image/jpeg"
    ) -> pb.UploadPhotoResponse:
        request = pb.UploadPhotoRequest(kind=kind, filename=filename, declared_type=declared, data=data)
        return self.call("UploadPhoto", request, self.candidate(number))

    def start(self, number: str = CANDIDATE) -> pb.IdentityView:
        return self.call("StartVerification", pb.StartVerificationRequest(), self.candidate(number))

    def read(self, photo_id: str, who: tuple) -> bytes:
        first = self.call("ReadPhoto", pb.ReadPhotoRequest(photo_id=photo_id), who)
        parts, offset = [first.data], len(first.data)
        while offset < first.total_size:
            chunk = self.call("ReadPhoto", pb.ReadPhotoRequest(photo_id=photo_id, offset=offset), who)
            parts.append(chunk.data)
            offset += len(chunk.data)
        return b"".join(parts)

    # --- what the service published -------------------------------------------------------------

    def events(self, number: str = CANDIDATE) -> list[Message]:
        with self.runtime.ctx.db.unit_of_work() as session:
            rows = session.execute(select(outbox).where(outbox.c.key == number).order_by(outbox.c.seq)).all()
        return [decode(r.ce_type, r.payload) for r in rows]

    def objects(self) -> list[str]:
        return self.app.deps.photos.list()


def make_harness(
    service_settings,
    bearer,
    database_url: str,
    engine: Any,
    clock: Clock | None = None,
    object_store_url: str | None = None,
    engine_factory: Callable[[], Any] | None = None,
    consume: bool = False,
    publish: bool = False,
    **identity: Any,
) -> Harness:
    clock = clock or Clock()
    overrides: dict[str, Any] = {"object_store_url": object_store_url} if object_store_url else {}
    if not publish:
        # The events stay in the outbox, where the tests read them: no broker to publish to, and a
        # relay that would not look again anyway. Published, events about the fixed test numbers
        # would reach other tests' consumers, which read the identity topic from its beginning.
        assert not consume, "a consuming harness publishes too (use numbers no other test uses)"
        overrides.update(kafka_bootstrap_servers="127.0.0.1:9", outbox_poll_seconds=3600.0)
    settings = service_settings("identity", database_url, **overrides)
    identity.setdefault("worker_enabled", False)  # tests drive the worker by hand unless they ask
    config = IdentitySettings(**identity)
    factory = engine_factory or (lambda: engine)
    # Without consumers unless asked: registration's topic holds other tests' events about the
    # same candidate numbers, and these tests record registration's facts directly.
    runtime = IdentityRuntime(settings, app=lambda ctx: IdentityApp.build(ctx, config, factory, clock), consume=consume)
    runtime.start()
    return Harness(runtime, bearer, clock, engine)


@pytest.fixture
def harness_factory(service_settings, bearer, sqlite_url: str) -> Iterator[Callable[..., Harness]]:
    """`harness_factory(engine, database_url=..., **IdentitySettings)`: started services, stopped after the test."""
    made: list[Harness] = []

    def make(engine: Any, database_url: str | None = None, **kwargs: Any) -> Harness:
        h = make_harness(service_settings, bearer, database_url or sqlite_url, engine, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
        h.runtime.stop(grace=0)


@pytest.fixture
def harness(harness_factory) -> Harness:
    """The service on SQLite and a local directory, with a scripted engine (verdict: passed)."""
    from services.identity.tests.support import ScriptedEngine

    return harness_factory(ScriptedEngine())
