"""Service discovery: static loopback addresses by default, Consul when CONSUL_HTTP_ADDR is set."""

from __future__ import annotations

import logging
from typing import Protocol

import consul

from zsb.common.settings import DEFAULT_PORTS, Settings

log = logging.getLogger(__name__)


class Discovery(Protocol):
    def resolve(self, service: str) -> str:
        """A 'host:port' of a healthy instance of the service."""

    def register(self, service: str, instance_id: str, host: str, port: int) -> None: ...

    def deregister(self, instance_id: str) -> None: ...


class ServiceUnavailable(Exception):
    """No healthy instance of the service is known."""


class StaticDiscovery:
    """Fixed addresses: the default ports on loopback, overridable per service."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self.addresses = {name: f"127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}
        self.addresses.update(overrides or {})

    def resolve(self, service: str) -> str:
        try:
            return self.addresses[service]
        except KeyError as exc:
            raise ServiceUnavailable(service) from exc

    def register(self, service: str, instance_id: str, host: str, port: int) -> None:
        """Nothing to do: static addresses are configured, not registered."""

    def deregister(self, instance_id: str) -> None:
        """Nothing to do: static addresses are configured, not registered."""


class ConsulDiscovery:
    """Registers instances with a gRPC health check and resolves healthy ones.

    Kubernetes deployments may rely on cluster DNS instead; Consul serves VM and mixed setups.
    """

    def __init__(self, http_addr: str) -> None:
        host, _, port = http_addr.replace("http://", "").partition(":")
        self.client = consul.Consul(host=host, port=int(port or 8500))
        self._next: dict[str, int] = {}

    def resolve(self, service: str) -> str:
        try:
            _index, entries = self.client.health.service(f"zsb-{service}", passing=True)
        except (consul.ConsulException, OSError) as exc:  # the agent is away: as if no instance
            log.warning("consul lookup failed", extra={"service": service, "error": str(exc)})
            raise ServiceUnavailable(service) from exc
        if not entries:
            raise ServiceUnavailable(service)
        # Round-robin across healthy instances, so gateways spread load over replicas.
        i = self._next.get(service, 0) % len(entries)
        self._next[service] = i + 1
        svc = entries[i]["Service"]
        return f"{svc['Address']}:{svc['Port']}"

    def register(self, service: str, instance_id: str, host: str, port: int) -> None:
        self.client.agent.service.register(
            f"zsb-{service}",
            service_id=instance_id,
            address=host,
            port=port,
            check=consul.Check.grpc(f"{host}:{port}", "5s", deregister="1m"),
        )

    def deregister(self, instance_id: str) -> None:
        try:
            self.client.agent.service.deregister(instance_id)
        except Exception:  # noqa: BLE001 - the agent may already be gone at shutdown
            log.warning("consul deregister failed", extra={"instance_id": instance_id})


def make_discovery(settings: Settings) -> Discovery:
    if settings.consul_http_addr:
        return ConsulDiscovery(settings.consul_http_addr)
    return StaticDiscovery(settings.address_overrides())
