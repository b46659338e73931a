"""奖励加分 from the qualification review reaches the 投档总分: QualificationApproved, as the
registration service writes it, goes through the results consumer (the subscription's handler,
behind the idempotent consumer) and the published score card adds it to the exam total.
Runs on SQLite and on MariaDB."""

from __future__ import annotations

import uuid

from google.protobuf.timestamp_pb2 import Timestamp
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import select

from services.results.adapters.tables import candidates
from services.results.consumers import subscriptions
from services.results.tests.support import Harness, Person, number
from zsb.common.consumer import IdempotentConsumer
from zsb.common.events import build_headers, topic_for
from zsb.common.tables import outbox
from zsb.events.v1 import registration_events_pb2 as reg_ev
from zsb.events.v1 import results_events_pb2 as res_ev
from zsb.results.v1 import results_pb2 as pb


def approval(candidate_no: str, points: int, ce_id: str = "") -> ConsumerRecord:
    """A QualificationApproved record as it arrives from the registration topic."""
    at = Timestamp()
    at.GetCurrentTime()
    message = reg_ev.QualificationApproved(candidate_no=candidate_no, reviewer="审核员乙", bonus_points=points, at=at)
    headers = build_headers(
        ce_id or uuid.uuid4().hex, message.DESCRIPTOR.full_name, "registration", "2026-04-01T02:00:00Z", "req-1"
    )
    value = message.SerializeToString()
    return ConsumerRecord(
        topic_for("registration"), 0, None, 0, 0, 0, candidate_no.encode(), value, headers, None, -1, len(value), -1
    )


def test_granted_bonus_points_are_added_to_the_published_total(any_db_harness: Harness) -> None:
    h = any_db_harness
    (sub,) = subscriptions(h.runtime.ctx)
    consumer = IdempotentConsumer(h.db, sub, bootstrap_servers="127.0.0.1:9")  # handle() needs no broker
    veteran = Person(number(21), "01", 110, 115)  # 225 + 10 granted = 235
    plain = Person(number(22), "01", 115, 115)  # 230, no claim
    modest = Person(number(23), "01", 100, 100)  # 200 + 0 granted: a claim the reviewer did not accept

    # The approval may overtake the confirmation: the points wait on a placeholder row.
    record = approval(veteran.no, 10)
    assert consumer.handle(record) == "handled"
    assert consumer.handle(record) == "duplicate"  # a redelivery changes nothing
    for p in (veteran, plain, modest):
        h.confirm(p)
    assert consumer.handle(approval(modest.no, 0)) == "handled"
    with h.db.unit_of_work() as session:
        stored = dict(session.execute(select(candidates.c.candidate_no, candidates.c.bonus_points)).all())
    assert (stored[veteran.no], stored[plain.no], stored[modest.no]) == (10, 0, 0)

    h.publish_scores([veteran, plain, modest])
    cards = {p.no: h.results(p.no).scores for p in (veteran, plain, modest)}
    got = {no: (c.total, c.bonus_points, c.admission_total, c.rank) for no, c in cards.items()}
    assert got == {
        veteran.no: (225, 10, 235, 1),  # the bonus lifts the lower exam total above 230
        plain.no: (230, 0, 230, 2),
        modest.no: (200, 0, 200, 3),
    }
    with h.db.unit_of_work() as session:
        rows = session.execute(
            select(outbox.c.payload).where(
                outbox.c.key == veteran.no, outbox.c.ce_type == res_ev.ScoresPublished.DESCRIPTOR.full_name
            )
        ).all()
    (published,) = [res_ev.ScoresPublished.FromString(r.payload) for r in rows]
    assert (published.total, published.bonus_points, published.admission_total) == (225, 10, 235)
    # Staff read the same card.
    looked_up = h.stub().LookupCandidate(pb.LookupCandidateRequest(candidate_no=veteran.no), metadata=h.province())
    assert (looked_up.scores.bonus_points, looked_up.scores.admission_total) == (10, 235)
