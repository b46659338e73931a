"""gRPC servicer of the identity service."""

from __future__ import annotations

from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.identity.v1 import identity_pb2, identity_pb2_grpc


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """No methods yet: the service serves health and owns its database and topic."""


def registrars(_ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            identity_pb2_grpc.add_IdentityServiceServicer_to_server,
            IdentityServicer(),
            identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],
        )
    ]
