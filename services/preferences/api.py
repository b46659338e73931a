"""gRPC servicer of the preferences service."""

from __future__ import annotations

from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.preferences.v1 import preferences_pb2, preferences_pb2_grpc


class PreferencesServicer(preferences_pb2_grpc.PreferencesServiceServicer):
    """No methods yet: the service serves health and owns its database and topic."""


def registrars(_ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            preferences_pb2_grpc.add_PreferencesServiceServicer_to_server,
            PreferencesServicer(),
            preferences_pb2.DESCRIPTOR.services_by_name["PreferencesService"],
        )
    ]
