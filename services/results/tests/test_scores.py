"""Score imports (every bad row reported, nothing half-imported, corrections as new versions),
publication with ranks and score bands, and who may read what."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from services.results.adapters.tables import scores
from services.results.domain.scores import category_ranks, score_bands
from services.results.tests.support import Harness, Person, number, score_csv
from zsb.results.v1 import results_pb2 as pb


def refused(call, code: grpc.StatusCode, reason: str = "") -> None:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code, err.value.details()
    if reason:
        assert dict(err.value.trailing_metadata())["x-error-reason"] == reason


def three(h: Harness) -> list[Person]:
    people = [
        Person(number(1), "01", 100, 120),
        Person(number(2), "01", 90, 100, bonus=5),
        Person(number(3), "02", 80, 80),
    ]
    for p in people:
        h.confirm(p)
    return people


def stored(h: Harness) -> int:
    with h.db.unit_of_work() as session:
        return session.execute(select(func.count()).select_from(scores)).scalar_one()


def test_every_bad_row_is_reported_and_nothing_is_imported(harness: Harness) -> None:
    people = three(harness)
    abandoned = Person(number(9))
    harness.confirm(abandoned)
    from services.results.service import facts
    from zsb.events.v1 import registration_events_pb2 as reg_ev

    with harness.db.unit_of_work() as session:
        facts.on_abandoned(session, reg_ev.RegistrationAbandoned(candidate_no=abandoned.no))
    bad = [
        ["", "200", "100", "100"],  # line 5: no number
        [number(1), "200", "100", "100"],  # line 6: repeated
        [number(4), "200", "100", "100"],  # line 7: unknown candidate
        [abandoned.no, "200", "100", "100"],  # line 8: abandoned
        ["21145101130005x", "200", "100", "100"],  # line 9: too long
        [number(2), "abc", "100", "x"],  # line 10: total and a subject (but 2 is not repeated: line 3)
        [number(3), "199", "100", "100"],  # line 11: sum differs — and repeated
        [number(3), "150.5", "", ""],
    ]
    resp = harness.import_scores(score_csv(people, bad))
    found = [(e.line, e.column) for e in resp.errors]
    assert found == [
        (5, "考生号"),
        (6, "考生号"),
        (7, "考生号"),
        (8, "考生号"),
        (9, "考生号"),
        (10, "考生号"),
        (10, "总分"),
        (10, "专业课"),
        (11, "考生号"),
        (12, "考生号"),
        (12, "总分"),
    ]
    assert resp.error_count == len(found) and not resp.HasField("imported")
    messages = {(e.line, e.column): e.message for e in resp.errors}
    assert messages[(7, "考生号")] == "未找到该考生已确认的报名信息"
    assert messages[(8, "考生号")] == "该考生已放弃报名"
    assert "与第2行相同" in messages[(6, "考生号")]
    assert stored(harness) == 0
    listed = harness.stub().ListScoreImports(pb.ListScoreImportsRequest(), metadata=harness.province())
    assert list(listed.imports) == []

    sums = harness.import_scores(score_csv([Person(number(1), "01", 100, 120)], [[number(2), "199", "99", "99"]]))
    assert [(e.line, e.column, e.message) for e in sums.errors] == [(3, "总分", "总分 199 与各科成绩之和 198 不符")]
    header = harness.import_scores("考生号,总成绩,公共课,公共课\n".encode())
    assert {e.message for e in header.errors} == {"缺少列：总分", "列名重复：公共课"}
    assert [e.message for e in harness.import_scores(b"\xff\xfe\x00\x01").errors] == [
        "文件编码无法识别，请使用UTF-8或Excel格式"
    ]
    assert stored(harness) == 0


def test_excel_import_and_corrections_are_new_versions(harness: Harness) -> None:
    people = three(harness)
    book = Workbook()
    sheet = book.active
    sheet.append(["考生号", "总分", "公共课", "专业课"])
    for p in people:
        sheet.append([float(p.no), p.total, p.public, p.professional])  # Excel keeps numbers as floats
    data = io.BytesIO()
    book.save(data)
    first = harness.import_scores(data.getvalue())
    assert not first.errors and (first.imported.version, first.imported.total) == (1, 3)
    assert list(first.imported.subjects) == ["公共课", "专业课"]

    fix = harness.import_scores(score_csv([Person(number(2), "01", 95, 100)]), mode=pb.AMEND, note="复核更正")
    assert not fix.errors
    assert (fix.imported.version, fix.imported.mode, fix.imported.total, fix.imported.changed) == (2, "amend", 3, 1)
    wrong = harness.import_scores("考生号,总分,公共课\n21145101130001,100,100\n".encode(), mode=pb.AMEND)
    assert [e.message for e in wrong.errors] == ["更正文件的科目列须与第2版相同（公共课、专业课）"]
    with harness.db.unit_of_work() as session:
        v1 = dict(
            session.execute(select(scores.c.candidate_id, scores.c.total).where(scores.c.import_version == 1)).all()
        )
        v2 = dict(
            session.execute(select(scores.c.candidate_id, scores.c.total).where(scores.c.import_version == 2)).all()
        )
    assert sorted(v1.values()) == [160, 190, 220] and sorted(v2.values()) == [160, 195, 220]

    # Candidates see nothing until a version is published, then that version.
    assert not harness.results(people[1].no).HasField("scores")
    harness.stub().PublishScores(pb.PublishScoresRequest(version=1), metadata=harness.province())
    assert harness.results(people[1].no).scores.total == 190
    harness.import_scores(score_csv([Person(number(2), "01", 99, 100)]), mode=pb.AMEND)
    assert harness.results(people[1].no).scores.total == 190  # an unpublished correction changes nothing
    harness.stub().PublishScores(pb.PublishScoresRequest(version=2), metadata=harness.province())
    card = harness.results(people[1].no).scores
    assert (card.total, card.bonus_points, card.admission_total, card.rank) == (195, 5, 200, 2)
    listed = harness.stub().ListScoreImports(pb.ListScoreImportsRequest(), metadata=harness.province())
    assert [(i.version, i.published) for i in listed.imports] == [(3, False), (2, True), (1, False)]
    actions = harness.stub().ListStaffActions(pb.ListStaffActionsRequest(), metadata=harness.province()).actions
    assert [a.action for a in actions].count("scores_imported") == 3
    assert any("复核更正" in a.detail for a in actions)


def test_score_bands_are_stored_per_publication(harness: Harness) -> None:
    people = [Person(number(k), "01", 100 + k, 100 + k) for k in range(1, 13)] + [Person(number(50), "02", 60, 60)]
    for p in people:
        harness.confirm(p)
    harness.publish_scores(people)
    bands = harness.stub().GetScoreBands(pb.GetScoreBandsRequest(), metadata=harness.candidate(number(5)))
    assert bands.published and bands.major_category == "01" and bands.candidates == 12
    rows = [(b.low, b.high, b.count, b.cumulative, b.mine) for b in bands.bands]
    # totals 202, 204, …, 224: bands 220–229 (3), 210–219 (5), 200–209 (4); candidate 5 has 210.
    assert rows == [(220, 229, 3, 3, False), (210, 219, 5, 8, True), (200, 209, 4, 12, False)]
    other = harness.stub().GetScoreBands(pb.GetScoreBandsRequest(), metadata=harness.candidate(number(50)))
    assert [(b.low, b.count) for b in other.bands] == [(120, 1)]


def test_ranks_and_bands_rules() -> None:
    category = np.array([0, 0, 0, 1, 0, 0])
    total = np.array([200, 210, 200, 150, 190, 210])
    assert category_ranks(category, total).tolist() == [3, 1, 3, 1, 5, 1]
    assert [(b.low, b.count, b.cumulative) for b in score_bands(np.array([200, 219, 185]))] == [
        (210, 1, 1),
        (200, 1, 2),
        (190, 0, 2),
        (180, 1, 3),
    ]


def test_callers_see_only_what_they_may(harness: Harness) -> None:
    people = three(harness)
    harness.publish_scores(people)
    stub = harness.stub()
    mine = harness.results(people[0].no)
    assert mine.candidate_no == people[0].no and mine.scores.total == 220
    # A candidate has no way to name another: lookups are staff calls.
    refused(
        lambda: stub.LookupCandidate(
            pb.LookupCandidateRequest(candidate_no=people[1].no), metadata=harness.candidate(people[0].no)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "ROLE_REQUIRED",
    )
    city = harness.bearer("city", "city01", "01")
    assert stub.LookupCandidate(pb.LookupCandidateRequest(candidate_no=people[1].no), metadata=city).scores.total == 190
    far = number(1, point="0205")
    harness.confirm(Person(far))
    refused(
        lambda: stub.LookupCandidate(pb.LookupCandidateRequest(candidate_no=far), metadata=city),
        grpc.StatusCode.PERMISSION_DENIED,
        "OUT_OF_SCOPE",
    )
    point = harness.bearer("point", "p0113", "01", "0113")
    assert (
        stub.LookupCandidate(pb.LookupCandidateRequest(candidate_no=people[2].no), metadata=point).scores.total == 160
    )
    # Province-only actions refuse other staff and candidates.
    for meta in (city, point, harness.candidate(people[0].no)):
        refused(
            lambda m=meta: harness.stub().ImportScores(
                pb.ImportScoresRequest(content=b"x", mode=pb.REPLACE), metadata=m
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        refused(
            lambda m=meta: stub.PublishScores(pb.PublishScoresRequest(version=1), metadata=m),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        refused(lambda m=meta: stub.StartRun(pb.StartRunRequest(), metadata=m), grpc.StatusCode.PERMISSION_DENIED)
        refused(
            lambda m=meta: stub.PublishRun(pb.PublishRunRequest(run_id=1), metadata=m),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        refused(
            lambda m=meta: stub.ReturnCandidate(
                pb.ReturnCandidateRequest(candidate_no=people[0].no, reason="x"), metadata=m
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    refused(lambda: stub.GetMyResults(pb.GetMyResultsRequest(), metadata=city), grpc.StatusCode.PERMISSION_DENIED)
    refused(lambda: stub.GetMyResults(pb.GetMyResultsRequest()), grpc.StatusCode.UNAUTHENTICATED)
