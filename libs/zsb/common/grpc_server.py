"""gRPC server bootstrap: health, reflection, request ids, logging, metrics and error mapping."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter, Histogram

from zsb.common.context import (
    ACCESS_TOKEN_HEADER,
    REQUEST_ID_HEADER,
    new_request_id,
    reset_request_id,
    set_request_id,
)
from zsb.common.errors import DomainError, Unauthenticated
from zsb.common.principal import Principal, TokenVerifier, reset_principal, set_principal

log = logging.getLogger(__name__)

HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
REASON_KEY = "x-error-reason"
FIELD_KEY = "x-error-field"

RPC_COUNT = Counter("zsb_grpc_server_handled_total", "gRPC calls handled", ["method", "code"])
RPC_SECONDS = Histogram("zsb_grpc_server_handling_seconds", "gRPC handling time", ["method"])


class _Malformed:
    """Stands in for a request whose bytes did not parse, so the handler can answer cleanly."""


_MALFORMED = _Malformed()


def _safe_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # noqa: BLE001 - any parse failure is the caller's malformed input
            return _MALFORMED

    return parse


class ServerInterceptor(grpc.ServerInterceptor):
    """Wraps unary-unary handlers: request id, caller's token, malformed input, errors to status codes.

    With a verifier, every method needs a valid access token except those in `public_methods`
    (full names, '/zsb.auth.v1.AuthService/Login'); a token sent to a public method must be valid too.
    """

    def __init__(self, verifier: TokenVerifier | None = None, public_methods: frozenset[str] = frozenset()) -> None:
        self.verifier = verifier
        self.public_methods = public_methods

    def _principal(self, method: str, metadata: dict[str, str]) -> Principal | None:
        if self.verifier is None:
            return None
        header = metadata.get(ACCESS_TOKEN_HEADER, "")
        if header.startswith("Bearer "):
            return self.verifier.verify(header[len("Bearer ") :])
        if header or method not in self.public_methods:
            raise Unauthenticated("请先登录", reason="NO_TOKEN")
        return None

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods get grpc's own UNIMPLEMENTED
        method = details.method
        behavior = handler.unary_unary

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            metadata = dict(context.invocation_metadata() or ())
            token = set_request_id(metadata.get(REQUEST_ID_HEADER) or new_request_id())
            principal_token = set_principal(None)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if request is _MALFORMED:
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    context.abort(code, "malformed request message")
                try:
                    set_principal(self._principal(method, metadata))
                    return behavior(request, context)
                except DomainError as err:
                    code = err.status
                    context.set_trailing_metadata(((REASON_KEY, err.reason), (FIELD_KEY, err.field)))
                    context.abort(err.status, err.message)
                except Exception:
                    if context.code() not in (None, grpc.StatusCode.OK):
                        code = context.code()
                        raise  # the servicer aborted with its own status
                    code = grpc.StatusCode.INTERNAL
                    log.exception("unhandled error in %s", method)
                    context.abort(code, "internal error")
            finally:
                RPC_COUNT.labels(method, code.name).inc()
                RPC_SECONDS.labels(method).observe(time.perf_counter() - started)
                reset_principal(principal_token)
                reset_request_id(token)

        return handler._replace(unary_unary=call, request_deserializer=_safe_deserializer(handler.request_deserializer))


Registrar = Callable[[grpc.Server], Iterable[str]]


def build_server(
    registrars: Iterable[Registrar],
    bind: str,
    port: int,
    verifier: TokenVerifier | None = None,
    public_methods: Iterable[str] = (),
    max_workers: int = 16,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Build a server with every servicer, health and reflection; returns (server, bound port, health).

    Each registrar adds its servicers and returns their full service names. Health and
    reflection are always public.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[ServerInterceptor(verifier, frozenset(public_methods) | {HEALTH_CHECK_METHOD})],
        options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)],
    )
    names: list[str] = []
    for register in registrars:
        names.extend(register(server))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    bound = server.add_insecure_port(f"{bind}:{port}")
    if not bound:
        raise RuntimeError(f"cannot bind gRPC server to {bind}:{port}")
    return server, bound, health_servicer


def registrar(add_to_server: Callable[[Any, grpc.Server], None], servicer: Any, service: Any) -> Registrar:
    """A registrar for one generated servicer: `registrar(add_XServicer_to_server, XServicer(...), desc)`.

    `service` is the ServiceDescriptor, e.g. `x_pb2.DESCRIPTOR.services_by_name["XService"]`.
    """

    def register(server: grpc.Server) -> list[str]:
        add_to_server(servicer, server)
        return [service.full_name]

    return register
