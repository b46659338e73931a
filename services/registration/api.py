"""gRPC servicer of the registration service."""

from __future__ import annotations

import grpc

from services.registration.service import RegistrationService
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.registration.v1 import registration_pb2, registration_pb2_grpc


class RegistrationServicer(registration_pb2_grpc.RegistrationServiceServicer):
    def __init__(self, service: RegistrationService) -> None:
        self.service = service

    def GetCandidate(
        self, request: registration_pb2.GetCandidateRequest, context: grpc.ServicerContext
    ) -> registration_pb2.Candidate:
        c = self.service.get_candidate(request.candidate_no)
        return registration_pb2.Candidate(
            candidate_no=c.candidate_no, name=c.name, point_code=c.point_code, status=c.status
        )


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            registration_pb2_grpc.add_RegistrationServiceServicer_to_server,
            RegistrationServicer(RegistrationService(ctx)),
            registration_pb2.DESCRIPTOR.services_by_name["RegistrationService"],
        )
    ]
