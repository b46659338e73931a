"""Events through the real Kafka: registration's facts feed the projection; identity's events reach the topic."""

from __future__ import annotations

import time
import uuid

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaConsumer
from sqlalchemy import select

from services.identity.adapters import CandidateRow
from services.identity.tests.support import ScriptedEngine, card_back, plain_photo
from zsb.common.clock import utcnow
from zsb.common.events import Envelope, build_headers, decode, topic_for
from zsb.common.outbox import make_producer
from zsb.common.tables import processed_events
from zsb.events.v1 import identity_events_pb2 as ev
from zsb.events.v1 import registration_events_pb2 as reg
from zsb.identity.v1 import identity_pb2 as pb


def wait_until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_registration_events_feed_the_projection_and_identity_events_reach_kafka(harness_factory, kafka_bootstrap):
    # A number no earlier run used: the registration topic keeps every run's events.
    number = f"27{int(time.time() * 1000) % 10**12:012d}"
    h = harness_factory(ScriptedEngine(), consume=True, publish=True)
    producer = make_producer(kafka_bootstrap)
    at = Timestamp()
    at.FromDatetime(utcnow())

    def send(message: Message, ce_id: str = "") -> None:
        headers = build_headers(ce_id or uuid.uuid4().hex, message.DESCRIPTOR.full_name, "registration", "", "t")
        producer.send(
            topic_for("registration"), key=number.encode(), value=message.SerializeToString(), headers=headers
        )
        producer.flush(timeout=15)

    def candidate() -> CandidateRow | None:
        with h.runtime.ctx.db.unit_of_work() as session:
            row = session.get(CandidateRow, number)
            if row is not None:
                session.expunge(row)
            return row

    me = h.bearer("candidate", number, "02", "0201")
    view = lambda: h.call("GetMyIdentity", pb.GetMyIdentityRequest(), me)  # noqa: E731
    try:
        send(reg.RegistrationSubmitted(candidate_no=number, city_code="01", point_code="0113", at=at))
        row = wait_until(lambda: candidate())
        assert (row.city_code, row.point_code, row.confirmed_at) == ("01", "0113", None) and not view().eligible
        confirmed = uuid.uuid4().hex
        event = reg.RegistrationConfirmed(candidate_no=number, name="李四", city_code="02", point_code="0201", at=at)
        send(event, confirmed)
        wait_until(lambda: view().eligible)
        first = candidate()
        assert (first.name, first.city_code, first.point_code) == ("李四", "02", "0201")
        # A redelivery changes nothing; nor does a late form event after 信息确认.
        send(event, confirmed)
        send(reg.RegistrationSubmitted(candidate_no=number, city_code="01", point_code="0113", at=at))
        marker = uuid.uuid4().hex
        send(reg.RegistrationSubmitted(candidate_no=number, city_code="05", point_code="0501", at=at), marker)
        wait_until(lambda: _count(h, marker))  # handled in order: the ones before it are done too
        after = candidate()
        assert (after.city_code, after.point_code, after.confirmed_at) == ("02", "0201", first.confirmed_at)
        assert _count(h, confirmed) == 1

        # The candidate asks for manual review: the event goes out through the outbox relay.
        h.call("GiveConsent", pb.GiveConsentRequest(version=view().consent.version), me)
        for kind in ("portrait", "id_card", "id_card_back"):
            data = card_back() if kind == "id_card_back" else plain_photo()
            h.call("UploadPhoto", pb.UploadPhotoRequest(kind=kind, data=data), me)
        h.call("RequestManualReview", pb.RequestManualReviewRequest(reason="申请人工"), me)
        published = _find_on_topic(kafka_bootstrap, topic_for("identity"), number)
        assert isinstance(published, ev.IdentityManualReviewRequested) and published.reason_kind == "requested"
        # The staff of the confirmed city see the case; the city of the earlier form does not.
        assert h.call("ListReviews", pb.ListReviewsRequest(), h.staff("city", city="02")).total == 1
        assert h.call("ListReviews", pb.ListReviewsRequest(), h.staff("city", city="01")).total == 0

        send(
            reg.RegistrationAbandoned(candidate_no=number, payment_made=False, city_code="02", point_code="0201", at=at)
        )
        wait_until(lambda: not view().eligible)
        assert "放弃报名" in view().ineligible_message
    finally:
        producer.close(timeout=5)


def _count(h, ce_id: str) -> int:
    with h.runtime.ctx.db.unit_of_work() as session:
        return len(session.execute(select(processed_events.c.ce_id).where(processed_events.c.ce_id == ce_id)).all())


def _find_on_topic(bootstrap: str, topic: str, key: str) -> Message:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        # On a new broker the topic may appear only after we subscribe: look again every second.
        metadata_max_age_ms=1000,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for record in consumer:
                if record.key == key.encode():
                    env = Envelope.from_headers(record.headers, record.value)
                    return decode(env.ce_type, env.payload)
        raise AssertionError(f"no event for {key} on {topic}")
    finally:
        consumer.close()
