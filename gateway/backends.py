"""The gateway's view of the services: gRPC stubs over shared channels, and their health."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zsb.auth.v1 import auth_pb2_grpc
from zsb.common.discovery import ServiceUnavailable, make_discovery
from zsb.common.grpc_client import Channels
from zsb.common.settings import Settings
from zsb.identity.v1 import identity_pb2_grpc
from zsb.payment.v1 import payment_pb2_grpc
from zsb.preferences.v1 import preferences_pb2_grpc
from zsb.registration.v1 import registration_pb2_grpc
from zsb.results.v1 import results_pb2_grpc

HEALTH_TIMEOUT_SECONDS = 1.0

# The stub class of each service; `backends.<service>` is a stub on a shared channel.
STUBS: dict[str, type] = {
    "auth": auth_pb2_grpc.AuthServiceStub,
    "registration": registration_pb2_grpc.RegistrationServiceStub,
    "identity": identity_pb2_grpc.IdentityServiceStub,
    "payment": payment_pb2_grpc.PaymentServiceStub,
    "preferences": preferences_pb2_grpc.PreferencesServiceStub,
    "results": results_pb2_grpc.ResultsServiceStub,
}


class Backends:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.channels = Channels(make_discovery(settings))

    def __getattr__(self, service: str) -> object:
        try:
            stub_class = STUBS[service]
        except KeyError:
            raise AttributeError(service) from None
        return stub_class(self.channels.get(service))

    def check_health(self, service: str) -> str:
        """'SERVING', another health status name, or why the check failed."""
        try:
            stub = health_pb2_grpc.HealthStub(self.channels.get(service))
            resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_SECONDS)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        except ServiceUnavailable:
            return "NOT_DISCOVERED"
        except grpc.RpcError as err:
            return err.code().name

    def readiness(self) -> dict[str, str]:
        names = [n for n in self.settings.ready_services.split(",") if n]
        with ThreadPoolExecutor(max_workers=max(len(names), 1)) as pool:
            return dict(zip(names, pool.map(self.check_health, names), strict=True))
