"""gRPC servicer of the auth service: messages in, use cases called, messages out."""

from __future__ import annotations

import grpc

from services.auth.service import AuthService
from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, service: AuthService) -> None:
        self.service = service

    def CreateCandidateAccounts(
        self, request: auth_pb2.CreateCandidateAccountsRequest, context: grpc.ServicerContext
    ) -> auth_pb2.CreateCandidateAccountsResponse:
        rows = [
            {
                "candidate_no": r.candidate_no,
                "name": r.name,
                "id_number": r.id_number,
                "phone": r.phone,
                "point_code": r.point_code,
            }
            for r in request.rows
        ]
        created, problems = self.service.create_candidate_accounts(rows)
        return auth_pb2.CreateCandidateAccountsResponse(
            accounts=[auth_pb2.CreatedAccount(candidate_no=n, initial_password=p) for n, p in created],
            errors=[auth_pb2.RowError(row=p.row, field=p.field, message=p.message) for p in problems],
        )


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            auth_pb2_grpc.add_AuthServiceServicer_to_server,
            AuthServicer(AuthService(ctx)),
            auth_pb2.DESCRIPTOR.services_by_name["AuthService"],
        )
    ]
