"""The gRPC bootstrap answers bad input with proper status codes, never a crash."""

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zsb.common.errors import NotFound
from zsb.common.grpc_server import FIELD_KEY, REASON_KEY, build_server
from zsb.events.v1 import auth_events_pb2

Msg = auth_events_pb2.CandidateAccountCreated
SERVICE = "zsb.test.v1.Echo"


def _echo(request: Msg, context: grpc.ServicerContext) -> Msg:
    if request.candidate_no == "missing":
        raise NotFound("考生不存在", reason="CANDIDATE_NOT_FOUND", field="candidate_no")
    if request.candidate_no == "boom":
        raise RuntimeError("secret internals")
    if request.candidate_no == "abort":
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "无权访问")
    return Msg(candidate_no=request.candidate_no, name=dict(context.invocation_metadata()).get("x-request-id", ""))


def _register(server: grpc.Server) -> list[str]:
    handler = grpc.unary_unary_rpc_method_handler(
        _echo, request_deserializer=Msg.FromString, response_serializer=Msg.SerializeToString
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Echo": handler}),))
    return [SERVICE]


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    server, port, _health = build_server([_register], "127.0.0.1", 0)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(0)


def _call(channel: grpc.Channel, payload: bytes, metadata: tuple = ()) -> bytes:
    return channel.unary_unary(f"/{SERVICE}/Echo")(payload, metadata=metadata, timeout=5)


def test_ok_and_request_id_propagates(channel: grpc.Channel) -> None:
    out = Msg.FromString(_call(channel, Msg(candidate_no="1").SerializeToString(), (("x-request-id", "abc123"),)))
    assert out.candidate_no == "1" and out.name == "abc123"


def test_malformed_message_is_invalid_argument(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _call(channel, b"\xff\xff\xff\xff")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unknown_method_is_unimplemented(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as err:
        channel.unary_unary(f"/{SERVICE}/Nope")(b"", timeout=5)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_domain_error_maps_to_status_with_reason(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _call(channel, Msg(candidate_no="missing").SerializeToString())
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert err.value.details() == "考生不存在"
    trailers = dict(err.value.trailing_metadata())
    assert trailers[REASON_KEY] == "CANDIDATE_NOT_FOUND" and trailers[FIELD_KEY] == "candidate_no"


def test_unexpected_error_is_internal_without_details(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _call(channel, Msg(candidate_no="boom").SerializeToString())
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (err.value.details() or "")


def test_servicer_abort_keeps_its_status(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _call(channel, Msg(candidate_no="abort").SerializeToString())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_health_and_server_survive_bad_calls(channel: grpc.Channel) -> None:
    for _ in range(3):
        with pytest.raises(grpc.RpcError):
            _call(channel, b"\x0a\xff")
    resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
