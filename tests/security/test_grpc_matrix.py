"""Every gRPC method of every service, read from the generated descriptors, against bad callers.

No token, an expired token and a token signed with another key are refused with UNAUTHENTICATED
(the declared public methods excepted for "no token"); a candidate's token on a method about
another candidate is never answered with that candidate's data.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message_factory import GetMessageClass

from services.auth.api import PUBLIC_METHODS as AUTH_PUBLIC
from services.payment.api import PUBLIC_METHODS as PAYMENT_PUBLIC
from services.registration.api import PUBLIC_METHODS as REGISTRATION_PUBLIC
from tests.conftest import System
from zsb.common.grpc_server import REASON_KEY
from zsb.common.principal import Principal, Role, TokenSigner, generate_keypair
from zsb.common.settings import SERVICE_NAMES

# Building candidates waits for several services' events: more than the default 300 s under load.
pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

PUBLIC = AUTH_PUBLIC | PAYMENT_PUBLIC | REGISTRATION_PUBLIC
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


def methods() -> Iterator[tuple[str, MethodDescriptor]]:
    for service in SERVICE_NAMES:
        module = importlib.import_module(f"zsb.{service}.v1.{service}_pb2")
        for svc in module.DESCRIPTOR.services_by_name.values():
            for method in svc.methods:
                yield service, method


ALL = list(methods())


def call(system: System, service: str, method: MethodDescriptor, metadata: tuple, **fields: str) -> tuple:
    """(status code, reason from the trailing metadata) of one call with a default request."""
    request_cls = GetMessageClass(method.input_type)
    response_cls = GetMessageClass(method.output_type)
    request = request_cls()
    for name, value in fields.items():
        if name in request_cls.DESCRIPTOR.fields_by_name:
            setattr(request, name, value)
    with system.channel(service) as ch:
        stub = ch.unary_unary(
            f"/{method.containing_service.full_name}/{method.name}",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        try:
            stub(request, timeout=20, metadata=metadata)
        except grpc.RpcError as err:
            reason = dict(err.trailing_metadata() or ()).get(REASON_KEY, "")
            return err.code(), reason
    return grpc.StatusCode.OK, ""


def full_name(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def test_the_matrix_covers_every_service() -> None:
    assert {service for service, _ in ALL} == set(SERVICE_NAMES)
    assert len(ALL) > 40


@pytest.mark.parametrize(("service", "method"), ALL, ids=[f"{s}.{m.name}" for s, m in ALL])
def test_bad_tokens_are_refused(system: System, token_keys: dict[str, str], service: str, method) -> None:
    signer = TokenSigner(token_keys["access_token_signing_key"])
    forger = TokenSigner(generate_keypair()[0])
    staff = Principal("admin", Role.PROVINCE, "", "", "s")
    expired = signer.sign(staff, now=time.time() - 7 * 24 * 3600)
    forged = forger.sign(staff)
    for token in (expired, forged, "not-a-jwt"):
        code, reason = call(system, service, method, (("authorization", f"Bearer {token}"),))
        assert code == grpc.StatusCode.UNAUTHENTICATED, (full_name(method), token[:20], code)
        assert reason in ("TOKEN_EXPIRED", "TOKEN_INVALID")
    code, reason = call(system, service, method, ())
    if full_name(method) in PUBLIC:
        # Let through by the interceptor; the method itself may still refuse an empty request.
        assert reason != "NO_TOKEN"
    else:
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "NO_TOKEN"), full_name(method)


WITH_CANDIDATE_NO = [(s, m) for s, m in ALL if "candidate_no" in m.input_type.fields_by_name]


def test_a_candidate_token_never_reaches_another_candidate(system: System, bearer) -> None:
    """Candidate A (point 0113) asks every method that takes a 考生号 about candidate B."""
    a, _ = system.import_candidate(name="甲一")
    b, _ = system.import_candidate(name="乙二")
    token = bearer("candidate", a, "01", "0113")
    answered = [
        full_name(m)
        for s, m in WITH_CANDIDATE_NO
        if full_name(m) not in PUBLIC and call(system, s, m, token, candidate_no=b)[0] == grpc.StatusCode.OK
    ]
    assert len(WITH_CANDIDATE_NO) > 10
    assert answered == []


# ---- staff scopes ----

SCOPE_FIELDS = {"candidate_no", "point_code", "city_code", "document_id", "photo_id"}
FILE_FIELDS = {"document_id", "photo_id"}  # any answer about these is the candidate's file
WITH_SCOPE = [(s, m) for s, m in ALL if SCOPE_FIELDS & set(m.input_type.fields_by_name) and full_name(m) not in PUBLIC]
# (role, city, point) of staff whose scope does not cover point 0113 of city 01.
OUTSIDERS = [("city", "02", ""), ("point", "02", "0201"), ("point", "01", "0101"), ("reviewer", "01", "0101")]
READS = ("Get", "List", "Search", "Read", "Reveal", "Export")


def answer(system: System, service: str, method: MethodDescriptor, metadata: tuple, **fields: str) -> bytes | None:
    """The serialized response of one call, or None when it was refused."""
    request_cls = GetMessageClass(method.input_type)
    request = request_cls(**{k: v for k, v in fields.items() if k in request_cls.DESCRIPTOR.fields_by_name})
    with system.channel(service) as ch:
        stub = ch.unary_unary(full_name(method), request_serializer=request_cls.SerializeToString,
                              response_deserializer=lambda raw: raw)  # fmt: skip
        try:
            return stub(request, timeout=20, metadata=metadata)
        except grpc.RpcError:
            return None


def test_staff_outside_the_scope_get_nothing_of_a_candidate(system: System, bearer, victim) -> None:
    """Every method that takes a 考生号, a point or a city, asked about the victim (point 0113,
    city 01) by staff of another city or point: refused, or answered without the victim in it."""
    about = {"candidate_no": victim.number, "point_code": "0113", "city_code": "01",
             "document_id": victim.document_id, "photo_id": victim.photo_id}  # fmt: skip
    leaks = []
    for role, city, point in OUTSIDERS:
        token = bearer(role, f"outsider-{role}", city, point)
        for service, method in WITH_SCOPE:
            body = answer(system, service, method, token, **about)
            about_a_file = bool(FILE_FIELDS & set(method.input_type.fields_by_name))
            if body is not None and (about_a_file or victim.number.encode() in body or victim.name.encode() in body):
                leaks.append((role, city, point, full_name(method)))
    assert leaks == []
    # The same reads by the candidate's own point do show the candidate: the test can fail.
    own = bearer("point", "insider", "01", "0113")
    shown = [
        full_name(m)
        for s, m in WITH_SCOPE
        if m.name.startswith(READS) and victim.number.encode() in (answer(system, s, m, own, **about) or b"")
    ]
    assert len(shown) >= 3, shown
