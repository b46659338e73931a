"""A preferences service in-process on a free port, with its real database, relay and consumers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import pytest

from services.preferences.main import SPEC
from services.preferences.tests.helpers import CANDIDATE, WITHOUT_CONSUMERS, plan_rows, window
from zsb.common.db import Database
from zsb.common.runtime import ServiceRuntime, ServiceSpec
from zsb.common.settings import Settings
from zsb.preferences.v1 import preferences_pb2 as pb
from zsb.preferences.v1 import preferences_pb2_grpc


@dataclass
class Prefs:
    runtime: ServiceRuntime
    stub: preferences_pb2_grpc.PreferencesServiceStub
    bearer: object

    @property
    def db(self) -> Database:
        return self.runtime.ctx.db

    def province(self) -> tuple:
        return self.bearer("province", "prov01")

    def candidate(self, number: str = CANDIDATE) -> tuple:
        return self.bearer("candidate", number, number[6:8], number[6:10])

    def import_plan(self, rows: list[pb.PlanRow] | None = None) -> pb.ImportPlanResponse:
        return self.stub.ImportPlan(pb.ImportPlanRequest(rows=rows or plan_rows()), metadata=self.province())

    def open(self, code: str = "ordinary", hours_from: float = -1, hours_to: float = 1) -> pb.Batch:
        opens, closes = window(hours_from, hours_to)
        req = pb.ScheduleBatchRequest(code=code, opens_at=opens, closes_at=closes)
        return self.stub.ScheduleBatch(req, metadata=self.province())

    def submit(self, choices: list[pb.Choice], key: str, number: str = CANDIDATE, batch: str = "ordinary"):
        req = pb.SubmitPreferencesRequest(batch_code=batch, idempotency_key=key, choices=choices)
        return self.stub.SubmitPreferences(req, metadata=self.candidate(number))


@contextmanager
def running(settings: Settings, bearer: object, spec: ServiceSpec = WITHOUT_CONSUMERS) -> Iterator[Prefs]:
    runtime = ServiceRuntime(spec, settings)
    port = runtime.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Prefs(runtime, preferences_pb2_grpc.PreferencesServiceStub(channel), bearer)
    finally:
        runtime.stop(grace=0)


@pytest.fixture
def prefs(service_settings, database_url: str, bearer) -> Iterator[Prefs]:
    with running(service_settings("preferences", database_url), bearer) as p:
        yield p


@pytest.fixture
def prefs_kafka(service_settings, database_url: str, bearer) -> Iterator[Prefs]:
    """With its consumers: the tests that use it publish events about fresh 考生号s only."""
    with running(service_settings("preferences", database_url), bearer, SPEC) as p:
        yield p


@pytest.fixture
def prefs_mariadb(service_settings, mariadb_url: str, bearer) -> Iterator[Prefs]:
    with running(service_settings("preferences", mariadb_url), bearer) as p:
        yield p


def rpc_error(fn, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        fn(*args, **kwargs)
    return err.value
