"""gRPC servicer of the results service."""

from __future__ import annotations

from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.results.v1 import results_pb2, results_pb2_grpc


class ResultsServicer(results_pb2_grpc.ResultsServiceServicer):
    """No methods yet: the service serves health and owns its database and topic."""


def registrars(_ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            results_pb2_grpc.add_ResultsServiceServicer_to_server,
            ResultsServicer(),
            results_pb2.DESCRIPTOR.services_by_name["ResultsService"],
        )
    ]
