"""Statistics for staff: score bands and admissions (per batch, institution and major, 退档,
征集志愿) over the caller's candidates only, from published data (SQLite and MariaDB)."""

from __future__ import annotations

import random

import grpc
import numpy as np
import pytest
from sqlalchemy import select

from services.results.adapters.tables import score_bands
from services.results.domain.scores import score_bands as published_bands
from services.results.domain.stats import bands_from_counts
from services.results.tests.support import Harness, Person, number
from services.results.tests.test_admission_flow import BOTH, LINES, NAMES, PLAN
from zsb.results.v1 import results_pb2 as pb

# The admission flow's candidates, spread over two points of city 01 and one point of city 02.
POINTS = {"c1": "0113", "c2": "0113", "c3": "0113", "c4": "0102", "c5": "0102", "c6": "0102"}
POINTS |= {"c7": "0201", "c8": "0201"}


def people() -> dict[str, Person]:
    def no(key: str) -> str:
        return number(int(key[1:]), POINTS[key])

    return {
        "c1": Person(no("c1"), "01", 116, 120, jdlk=True, prefs={"jdlk": [("10108", "01")], "ordinary": BOTH}),
        "c2": Person(no("c2"), "01", 112, 118, bonus=10, prefs={"ordinary": BOTH}),  # 240
        "c3": Person(no("c3"), "01", 111, 125, prefs={"ordinary": BOTH}),  # 236
        "c4": Person(no("c4"), "01", 116, 120, prefs={"ordinary": BOTH}),  # 236
        "c5": Person(no("c5"), "02", 95, 95, prefs={"ordinary": [("10108", "01"), ("10125", "03")]}),  # 190
        "c6": Person(no("c6"), "01", 75, 75, prefs={"ordinary": [("10112", "01")]}),  # 150, below the line
        "c7": Person(no("c7"), "01", 115, 115, prefs={"ordinary": [("10112", "01")]}),  # 230
        "c8": Person(no("c8"), "01", 110, 115, prefs={"ordinary": BOTH}),  # 225
    }


def admit_everyone(h: Harness) -> dict[str, Person]:
    """The whole admission of `people()`: scores, both batches, c7's 退档, 征集志愿 (c8), published."""
    p = people()
    h.plan(PLAN, NAMES)
    for person in p.values():
        h.confirm(person)
    h.publish_scores(p.values())
    h.settings(LINES, solicitation={"jdlk": False})
    h.publish_run(h.run().id)
    h.publish_run(h.run().id)
    h.review_window(1)
    returned = pb.ReturnCandidateRequest(candidate_no=p["c7"].no, reason="体检不合格")
    h.stub().ReturnCandidate(returned, metadata=h.province())
    h.close_windows(1)
    h.open_solicitation("ordinary")
    fill = pb.SubmitSolicitationRequest(
        batch_code="ordinary", choices=[pb.SolicitationChoice(slot="A", institution_code="10112", major_code="01")]
    )
    h.stub().SubmitSolicitation(fill, metadata=h.candidate(p["c8"].no))
    run = h.run()
    h.close_windows(1)
    h.publish_run(run.id)
    return p


def stats(h: Harness, role: str, city: str = "", point: str = "") -> pb.ResultsStats:
    return h.stub().GetResultsStats(pb.GetResultsStatsRequest(), metadata=h.bearer(role, "staff1", city, point))


def figures(rows) -> dict[str, tuple[int, int, int]]:
    return {r.key: (r.dispatched, r.admitted, r.returned) for r in rows}


def bands(s: pb.ResultsStats) -> dict[str, list[tuple[int, int]]]:
    return {c.major_category: [(b.low, b.count) for b in c.bands] for c in s.bands}


def test_band_counting_matches_the_published_bands() -> None:
    rng = random.Random(7)
    for _ in range(200):
        totals = [rng.randint(0, 300) for _ in range(rng.randint(1, 60))]
        counts: dict[int, int] = {}
        for t in totals:
            counts[t] = counts.get(t, 0) + 1
        mine = [(b.low, b.high, b.count) for b in bands_from_counts(counts, 10)]
        assert mine == [(b.low, b.high, b.count) for b in published_bands(np.array(totals), 10)]
    assert bands_from_counts({}, 10) == []


def test_figures_within_each_scope_as_the_admission_goes(any_db_harness: Harness) -> None:
    h = any_db_harness
    p = people()
    h.plan(PLAN, NAMES)
    for person in p.values():
        h.confirm(person)

    empty = stats(h, "province")
    assert not empty.scores_published and not empty.admission_published and not empty.bands
    with pytest.raises(grpc.RpcError) as err:
        h.stub().GetResultsStats(pb.GetResultsStatsRequest(), metadata=h.candidate(p["c1"].no))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # 分数段: the province's figures are the published bands; a point's cover its candidates only.
    h.publish_scores(p.values())
    province = stats(h, "province")
    assert province.scores_published and province.scored == 8 and province.band_width == 10
    with h.db.unit_of_work() as session:
        stored = session.execute(select(score_bands).order_by(score_bands.c.low.desc())).all()
    assert bands(province) == {c: [(r.low, r.count) for r in stored if r.major_category == c] for c in ("01", "02")}
    assert bands(province)["01"][:3] == [(240, 1), (230, 4), (220, 1)]
    assert [(c.major_category, c.candidates, c.highest) for c in province.bands] == [("01", 7, 240), ("02", 1, 190)]
    point = stats(h, "point", "01", "0113")
    assert point.scored == 3 and bands(point) == {"01": [(240, 1), (230, 2)]}
    far = stats(h, "point", "02", "0201")
    assert far.scored == 2 and bands(far) == {"01": [(230, 1), (220, 1)]}
    city = stats(h, "city", "01")
    assert city.scored == 6 and bands(city)["02"] == [(190, 1)]
    assert sum(b[1] for b in bands(city)["01"]) == 5

    # Phases 0 and 1 published; 退档 of c7 during phase 1's review window.
    h.settings(LINES, solicitation={"jdlk": False})
    h.publish_run(h.run().id)
    h.publish_run(h.run().id)
    h.review_window(1)
    returned = pb.ReturnCandidateRequest(candidate_no=p["c7"].no, reason="体检不合格")
    h.stub().ReturnCandidate(returned, metadata=h.province())
    during = stats(h, "province")
    assert (during.admission_published, during.phase_label, during.final, during.participants) == (
        True,
        "普通批本科",
        False,
        8,
    )
    # jdlk is admitted (a later phase is out); the ordinary batch is still in the institutions' review.
    assert figures(during.by_batch) == {"jdlk": (1, 1, 0), "ordinary": (4, 0, 1)}
    assert figures(during.by_institution) == {"10108": (3, 1, 0), "10112": (1, 0, 1), "10125": (1, 0, 0)}
    assert [r.label for r in during.by_institution] == ["山西大学", "太原理工大学", "山西财经大学"]
    assert figures(during.by_major)["10112/01"] == (1, 0, 1)
    assert during.by_major[0].label == "山西大学 计算机科学与技术"

    # 征集志愿: vacancies published, c8 fills, the solicitation phase is published.
    h.close_windows(1)
    h.open_solicitation("ordinary")
    fill = pb.SubmitSolicitationRequest(
        batch_code="ordinary", choices=[pb.SolicitationChoice(slot="A", institution_code="10112", major_code="01")]
    )
    assert h.stub().SubmitSolicitation(fill, metadata=h.candidate(p["c8"].no)).version == 1
    run2 = h.run()
    h.close_windows(1)
    h.publish_run(run2.id)

    final = stats(h, "province")
    assert final.final and final.phase_label == "普通批本科征集志愿"
    assert figures(final.by_batch) == {
        "jdlk": (1, 1, 0),
        "ordinary": (4, 4, 1),
        "ordinary:solicitation": (1, 0, 0),
    }
    assert [r.label for r in final.by_batch] == ["建档立卡专项批本科", "普通批本科", "普通批本科征集志愿"]
    assert figures(final.by_institution) == {"10108": (3, 3, 0), "10112": (2, 1, 1), "10125": (1, 1, 0)}
    assert [(s.batch_code, s.vacancies, s.applicants, s.dispatched) for s in final.solicitations] == [
        ("ordinary", 1, 1, 1)
    ]

    # Each scope sees its own candidates' figures and nothing of another point's.
    mine = stats(h, "point", "01", "0113")
    assert mine.participants == 3
    assert figures(mine.by_batch) == {"jdlk": (1, 1, 0), "ordinary": (2, 2, 0), "ordinary:solicitation": (0, 0, 0)}
    assert figures(mine.by_institution) == {"10108": (3, 3, 0)}
    assert [(s.vacancies, s.applicants, s.dispatched) for s in mine.solicitations] == [(1, 0, 0)]
    other = stats(h, "point", "02", "0201")
    assert other.participants == 2
    assert figures(other.by_batch) == {"jdlk": (0, 0, 0), "ordinary": (0, 0, 1), "ordinary:solicitation": (1, 0, 0)}
    assert figures(other.by_institution) == {"10112": (1, 0, 1)}
    assert [(s.applicants, s.dispatched) for s in other.solicitations] == [(1, 1)]
    city = stats(h, "city", "01")
    assert city.participants == 6
    assert figures(city.by_institution) == {"10108": (3, 3, 0), "10112": (1, 1, 0), "10125": (1, 1, 0)}
    reviewer = stats(h, "reviewer", "02", "0201")  # a reviewer of a point sees that point
    assert figures(reviewer.by_institution) == figures(other.by_institution)
    nowhere = stats(h, "point", "03", "0301")
    assert nowhere.participants == 0 and nowhere.scored == 0 and not nowhere.by_institution
