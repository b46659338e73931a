"""The results service against the real Kafka: its consumers build the projections from the
registration and preferences topics, and what it publishes reaches its own topic."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.message import Message
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import select

from services.results.adapters.tables import candidates, plan_lines, plan_state, preferences, programmes
from services.results.main import SPEC
from services.results.tests.support import Harness, Person, score_csv
from zsb.common.events import Envelope, build_headers, decode, topic_for
from zsb.common.runtime import ServiceRuntime
from zsb.events.v1 import preferences_events_pb2 as pref_ev
from zsb.events.v1 import registration_events_pb2 as reg_ev
from zsb.events.v1 import results_events_pb2 as ev
from zsb.results.v1 import results_pb2 as pb


@pytest.fixture
def live(service_settings, sqlite_url: str, bearer) -> Iterator[Harness]:
    runtime = ServiceRuntime(SPEC, service_settings("results", sqlite_url))
    runtime.start()
    yield Harness(runtime, bearer)
    runtime.stop(grace=0)


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    yield p
    p.close()


def send(producer: KafkaProducer, service: str, key: str, message: Message) -> None:
    headers = build_headers(str(uuid.uuid4()), message.DESCRIPTOR.full_name, service, "2026-07-01T08:00:00Z", "")
    producer.send(topic_for(service), key=key.encode(), value=message.SerializeToString(), headers=headers).get(15)


def wait_until(check, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("the projection never reached the expected state")


def test_projections_follow_the_registration_and_preferences_topics(live: Harness, producer: KafkaProducer) -> None:
    no = f"98{uuid.uuid4().int % 10**12:012d}"
    institution = f"9{uuid.uuid4().int % 10**4:04d}"
    version = int(time.time())  # above any plan version other tests left on the shared topic
    send(
        producer,
        "registration",
        no,
        reg_ev.RegistrationConfirmed(
            candidate_no=no,
            name="王五",
            major_category="08",
            poverty_registered=True,
            city_code="02",
            point_code="0201",
        ),
    )
    send(producer, "registration", no, reg_ev.QualificationApproved(candidate_no=no, bonus_points=10))
    item = pref_ev.PreferenceItem(
        slot="A", institution_code=institution, institution_name="测试学院", major_code="01", major_name="软件工程"
    )
    send(
        producer,
        "preferences",
        no,
        pref_ev.PreferencesSubmitted(
            candidate_no=no, batch_code="ordinary", version=2, items=[item], major_category="08"
        ),
    )
    send(
        producer,
        "preferences",
        no,
        pref_ev.PreferencesSubmitted(  # an older snapshot arriving late
            candidate_no=no, batch_code="ordinary", version=1, items=[], major_category="08"
        ),
    )
    send(
        producer,
        "preferences",
        "plan",
        pref_ev.EnrollmentPlanPublished(
            version=version,
            batches=[pref_ev.EnrollmentBatch(code="ordinary", name="普通批本科", position=1)],
            lines=[
                pref_ev.EnrollmentPlanLine(
                    batch_code="ordinary", institution_code=institution, major_code="01", major_category="08", places=3
                )
            ],
        ),
    )

    def projected():
        with live.db.unit_of_work() as session:
            cand = session.execute(select(candidates).where(candidates.c.candidate_no == no)).first()
            state = session.execute(select(plan_state.c.version)).scalar()
            if cand is None or cand.bonus_points != 10 or state != version:
                return None
            prefs = session.execute(select(preferences).where(preferences.c.candidate_id == cand.id)).first()
            if prefs is None:  # keys differ, so partitions (and order) may differ from the plan's
                return None
            lines = session.execute(
                select(plan_lines.c.places, programmes.c.institution_name).join(
                    programmes, programmes.c.id == plan_lines.c.programme_id
                )
            ).all()
            return cand, prefs, lines

    cand, prefs, lines = wait_until(projected)
    assert (cand.major_category, cand.jdlk, cand.city_code, cand.confirmed) == ("08", True, "02", True)
    assert prefs is not None and prefs.version == 2 and prefs.slot_a > 0 and prefs.slot_b == 0
    assert lines == [(3, "测试学院")]

    send(producer, "preferences", no, pref_ev.PreferencesWithdrawn(candidate_no=no, batch_code="ordinary", version=2))
    send(producer, "registration", no, reg_ev.RegistrationAbandoned(candidate_no=no))

    def withdrawn():
        with live.db.unit_of_work() as session:
            row = session.execute(
                select(candidates.c.abandoned, preferences.c.withdrawn)
                .join(preferences, preferences.c.candidate_id == candidates.c.id)
                .where(candidates.c.candidate_no == no)
            ).first()
            return row if row and row.abandoned and row.withdrawn else None

    wait_until(withdrawn)


def test_published_scores_reach_the_results_topic(live: Harness, kafka_bootstrap: str) -> None:
    topic = topic_for("results")
    reader = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or {0})]
    reader.assign(parts)
    reader.seek_to_beginning(*parts)  # the test's own 考生号s pick its events out

    base = uuid.uuid4().int % 10**8
    people = [Person(f"97{base:08d}{k:04d}", "03", 100 + k, 90) for k in range(3)]
    for p in people:
        live.confirm(p)
    assert not live.import_scores(score_csv(people)).errors
    numbers = {p.no for p in people}
    seen: dict[str, ev.ScoresPublished] = {}
    bands: list[ev.ScoreBandsPublished] = []
    live.stub().PublishScores(pb.PublishScoresRequest(version=1), metadata=live.province())
    deadline = time.monotonic() + 60
    while (len(seen) < 3 or not bands) and time.monotonic() < deadline:
        for records in reader.poll(timeout_ms=500).values():
            for r in records:
                env = Envelope.from_headers(r.headers, r.value)
                message = decode(env.ce_type, env.payload)
                if isinstance(message, ev.ScoresPublished) and message.candidate_no in numbers:
                    assert r.key.decode() == message.candidate_no
                    seen[message.candidate_no] = message
                elif isinstance(message, ev.ScoreBandsPublished) and message.major_category == "03":
                    bands.append(message)
    reader.close()
    assert sorted(seen) == sorted(numbers)
    top = seen[people[2].no]
    assert (top.total, top.rank, top.category_candidates) == (192, 1, 3)
    assert [(s.name, s.points) for s in top.subjects] == [("公共课", 102), ("专业课", 90)]
    assert bands and bands[-1].candidates == 3
