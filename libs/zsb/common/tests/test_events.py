import pytest

from zsb.common.events import Envelope, UndecodableEvent, build_headers, decode, dlq_topic, topic_for
from zsb.events.v1 import auth_events_pb2


def test_round_trip_through_headers() -> None:
    msg = auth_events_pb2.CandidateAccountCreated(candidate_no="21145101130001", name="张三", point_code="0113")
    headers = build_headers("id-1", msg.DESCRIPTOR.full_name, "auth", "2026-01-01T00:00:00Z", "rid")
    env = Envelope.from_headers(headers, msg.SerializeToString())
    assert (env.ce_id, env.ce_source, env.request_id) == ("id-1", "/zsb/auth", "rid")
    assert decode(env.ce_type, env.payload) == msg
    assert ("content-type", b"application/protobuf") in headers


def test_unknown_type_and_garbage_are_undecodable() -> None:
    with pytest.raises(UndecodableEvent, match="unknown"):
        decode("zsb.events.v1.Nope", b"")
    with pytest.raises(UndecodableEvent, match="malformed"):
        decode("zsb.events.v1.CandidateAccountCreated", b"\xff\xff\xff\xff")


def test_topic_names() -> None:
    assert topic_for("payment") == "zsb.payment.v1.events"
    assert dlq_topic(topic_for("payment")) == "zsb.payment.v1.events.dlq"
