"""Staff candidate search, counts and 查看完整信息 through the API: scoped, masked, audited."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from services.registration.adapters import AuditRow
from services.registration.tests.helpers import form, make_id
from services.registration.tests.test_service import ME, Reg, refused
from services.registration.tests.test_service import reg as reg
from zsb.registration.v1 import registration_pb2 as pb

DATONG = "21145102010001"  # a candidate of point 0201, city 02
SHANXI_ZHIYE = "21145101020001"  # point 0102, city 01


def search(r: Reg, md, **filters) -> pb.SearchCandidatesResponse:
    return r.stub.SearchCandidates(pb.SearchCandidatesRequest(**filters), metadata=md)


def test_search_counts_and_reveal_within_scope(reg: Reg) -> None:  # noqa: F811
    reg.candidate(ME, "0113", "张晓明")
    reg.candidate(SHANXI_ZHIYE, "0102", "李四")
    reg.candidate(DATONG, "0201", "王五")
    reg.read_notices()
    assert reg.save(form()).saved  # ME has an ID and phone number on file
    point = reg.staff("point", "01", "0113", name="point0113")
    city = reg.staff("city", "01", name="city01")
    province = reg.staff("province", name="sheng01")

    # The service also consumes the shared topic, where other tests' candidates appear: assertions
    # are about our three numbers and about every line staying within the scope.
    ours = {ME, SHANXI_ZHIYE, DATONG}

    def seen(md, **filters) -> set[str]:
        lines = search(reg, md, limit=200, **filters).lines
        return {c.candidate_no for c in lines}

    at_point = search(reg, point, limit=200).lines
    assert {c.point_code for c in at_point} == {"0113"} and seen(point) & ours == {ME}
    in_city = search(reg, city, limit=200).lines
    assert {c.city_code for c in in_city} == {"01"} and seen(city) & ours == {ME, SHANXI_ZHIYE}
    assert seen(province, candidate_no=DATONG) == {DATONG}
    # Filters narrow within the scope, never widen it.
    assert not seen(point, point_code="0201") and not seen(city, candidate_no=DATONG)
    assert seen(province, name="王五") & ours == {DATONG}
    assert seen(province, status="in_progress") & ours == {ME}
    refused(lambda: search(reg, province, status="weird"), grpc.StatusCode.INVALID_ARGUMENT, "BAD_STATUS")
    refused(lambda: search(reg, reg.md()), grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED")

    [mine] = search(reg, point, candidate_no=ME).lines
    assert mine.id_number == "1401**********" + make_id(131)[-4:] and mine.phone == "138****5678"
    assert mine.point_name == "山西工程职业学院" and mine.city_name == "太原市"

    # 查看完整信息: in scope only, with a purpose, and audited.
    ask = pb.RevealCandidateRequest(candidate_no=ME, purpose="核对考生来电")
    full = reg.stub.RevealCandidate(ask, metadata=point)
    assert full.id_number == make_id(131) and full.phone == "13812345678"
    other_point = reg.staff("point", "01", "0102", name="point0102")
    refused(lambda: reg.stub.RevealCandidate(ask, metadata=other_point), grpc.StatusCode.PERMISSION_DENIED)
    refused(
        lambda: reg.stub.RevealCandidate(pb.RevealCandidateRequest(candidate_no=ME), metadata=point),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PURPOSE_REQUIRED",
    )
    with reg.db.unit_of_work() as session:
        viewed = session.execute(
            select(AuditRow.actor, AuditRow.subject, AuditRow.detail).where(AuditRow.action == "pii_viewed")
        ).all()
    assert [tuple(v) for v in viewed] == [("point0113", ME, "核对考生来电")]

    # Counts for the dashboard, each within the caller's scope.
    stats = reg.stub.GetRegistrationStats(pb.GetRegistrationStatsRequest(), metadata=city)
    assert [r.label for r in stats.by_city] == ["太原市"] and stats.total >= 2
    assert {r.key for r in stats.by_point} >= {"0102", "0113"} and all(r.key.startswith("01") for r in stats.by_point)
    assert sum(r.count for r in stats.by_status) == stats.total and "填报中" in {r.label for r in stats.by_status}
    at_point = reg.stub.GetRegistrationStats(pb.GetRegistrationStatsRequest(), metadata=point)
    assert [r.key for r in at_point.by_point] == ["0113"]
    everything = reg.stub.GetRegistrationStats(pb.GetRegistrationStatsRequest(), metadata=province)
    assert {r.key for r in everything.by_city} >= {"01", "02"} and everything.total >= 3
