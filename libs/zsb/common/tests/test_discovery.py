"""Discovery: static addresses, and a real Consul agent with gRPC health checks."""

from __future__ import annotations

import time
import uuid

import pytest

from zsb.common.discovery import ConsulDiscovery, ServiceUnavailable, StaticDiscovery, make_discovery
from zsb.common.grpc_server import build_server
from zsb.common.settings import Settings


def test_static_defaults_and_overrides() -> None:
    d = StaticDiscovery({"auth": "10.0.0.5:6000"})
    assert d.resolve("auth") == "10.0.0.5:6000"
    assert d.resolve("results") == "127.0.0.1:50056"
    with pytest.raises(ServiceUnavailable):
        d.resolve("nothing")


def test_settings_choose_the_adapter() -> None:
    assert isinstance(make_discovery(Settings(service_addresses="auth=h:1")), StaticDiscovery)
    assert make_discovery(Settings(service_addresses="auth=h:1")).resolve("auth") == "h:1"
    assert isinstance(make_discovery(Settings(consul_http_addr="127.0.0.1:18500")), ConsulDiscovery)


@pytest.fixture
def consul(infra_env: dict[str, str]) -> ConsulDiscovery:
    addr = infra_env.get("CONSUL_HTTP_ADDR")
    if not addr:
        pytest.fail("CONSUL_HTTP_ADDR is not set: start the local infrastructure with `make infra-up`")
    return ConsulDiscovery(addr)


def wait_until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except ServiceUnavailable:
            pass
        time.sleep(0.5)
    raise AssertionError("not reached in time")


def test_consul_registers_resolves_only_healthy_instances_and_deregisters(consul: ConsulDiscovery) -> None:
    name = f"t{uuid.uuid4().hex[:8]}"
    server, port, _health = build_server([], "127.0.0.1", 0)
    server.start()
    try:
        consul.register(name, f"{name}-1", "127.0.0.1", port)
        # The agent's gRPC health check must pass before the instance is resolvable.
        assert wait_until(lambda: consul.resolve(name)) == f"127.0.0.1:{port}"
        # A second instance whose port answers nothing never becomes resolvable.
        consul.register(name, f"{name}-2", "127.0.0.1", 9)
        time.sleep(6)
        assert {consul.resolve(name) for _ in range(4)} == {f"127.0.0.1:{port}"}
    finally:
        server.stop(0)
        consul.deregister(f"{name}-1")
        consul.deregister(f"{name}-2")
    with pytest.raises(ServiceUnavailable):
        consul.resolve(name)


def test_an_unreachable_consul_agent_means_no_instance() -> None:
    with pytest.raises(ServiceUnavailable):
        ConsulDiscovery("127.0.0.1:9").resolve("auth")
