"""gRPC servicer of the payment service."""

from __future__ import annotations

from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.payment.v1 import payment_pb2, payment_pb2_grpc


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    """No methods yet: the service serves health and owns its database and topic."""


def registrars(_ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(
            payment_pb2_grpc.add_PaymentServiceServicer_to_server,
            PaymentServicer(),
            payment_pb2.DESCRIPTOR.services_by_name["PaymentService"],
        )
    ]
