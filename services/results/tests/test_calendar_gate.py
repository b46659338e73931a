"""成绩查询 within the calendar, on SQLite and MariaDB: candidates see their published scores (and
what derives from them) once the phase has opened, and ever after; staff are not gated.

The calendar reaches the service as registration's `CalendarPhaseChanged`, handled by the results
consumer's own handler inside a unit of work (as the consumer runs it) rather than through Kafka:
a window published to the shared topic would be replayed by other tests' consumers.
"""

from __future__ import annotations

import time
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.results.consumers import GROUP, subscriptions
from services.results.service.review import SolicitationStatus
from services.results.tests.support import Harness, Person, number
from zsb.common.events import Envelope
from zsb.events.v1 import registration_events_pb2 as reg_ev
from zsb.results.v1 import results_pb2 as pb


def at(hours: float) -> Timestamp:
    return Timestamp(seconds=int(time.time() + hours * 3600))


def deliver(h: Harness, event: reg_ev.CalendarPhaseChanged) -> None:
    """What the results consumer does with the event, in its transaction."""
    [sub] = [s for s in subscriptions(h.runtime.ctx) if s.group == GROUP]
    name = reg_ev.CalendarPhaseChanged.DESCRIPTOR.full_name
    with h.db.unit_of_work() as session:
        sub.handlers[name](session, event, Envelope("test", name, "registration", "", "", b""))


def test_scores_show_once_the_phase_opened_and_stay(any_db_harness: Harness) -> None:
    h = any_db_harness
    me, other = Person(number(1), public=120, professional=110), Person(number(2))
    h.confirm(me)
    h.confirm(other)
    h.publish_scores([me, other])
    staff = pb.LookupCandidateRequest(candidate_no=me.no)

    # Published by staff, but 成绩查询 opens tomorrow: the candidate reads when, not the scores.
    deliver(h, reg_ev.CalendarPhaseChanged(phase="score_publication", opens_at=at(24), version=100, actor="p"))
    mine = h.results(me.no)
    assert not mine.HasField("scores") and not mine.HasField("admission")
    assert mine.note.startswith("成绩查询将于") and mine.note.endswith("开放")
    bands = h.stub().GetScoreBands(pb.GetScoreBandsRequest(), metadata=h.candidate(me.no))
    assert not bands.published and not bands.bands and bands.note == mine.note
    unknown = h.results(number(99))  # not in the results yet: the same answer
    assert not unknown.HasField("scores") and unknown.note == mine.note
    # Staff in scope are not gated (the publication and lookups are theirs).
    assert h.stub().LookupCandidate(staff, metadata=h.province()).scores.total == 230

    # A replay of an older change does not open it.
    deliver(h, reg_ev.CalendarPhaseChanged(phase="score_publication", version=50))
    assert h.results(me.no).note

    # Opened, and even once the query window closed, the scores stay (the admission needs them).
    deliver(
        h,
        reg_ev.CalendarPhaseChanged(phase="score_publication", opens_at=at(-48), closes_at=at(-24), version=200),
    )
    mine = h.results(me.no)
    assert not mine.note and mine.scores.total == 230 and mine.scores.rank == 1
    bands = h.stub().GetScoreBands(pb.GetScoreBandsRequest(), metadata=h.candidate(me.no))
    assert bands.published and not bands.note and bands.my_admission_total == 230


def test_the_solicitation_refusal_says_when() -> None:
    opens, closes = datetime(2027, 7, 20, 1, 0), datetime(2027, 7, 22, 9, 0)

    def status(is_open: bool) -> SolicitationStatus:
        return SolicitationStatus("ordinary", "普通批本科", opens, closes, is_open, True, "", 0, None, "01")

    assert status(False).closed_reason(datetime(2027, 7, 19)) == "普通批本科征集志愿填报将于2027-07-20 09:00开始"
    assert status(True).closed_reason(datetime(2027, 7, 21)) == ""
    assert status(False).closed_reason(closes) == "普通批本科征集志愿填报已于2027-07-22 17:00结束，不能再提交或修改"
    # Inside the times but the 征集志愿 run is already published.
    assert status(False).closed_reason(datetime(2027, 7, 21)) == "普通批本科征集志愿已投档，不能再提交或修改"
