"""Unit tests of the type-to-documents rules of the 报考资格审核."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.registration.domain import (
    SEED,
    BasicInfo,
    DocumentKind,
    QualificationReview,
    QualificationStatus,
    ReferenceData,
    ResumeRow,
    Sex,
    required_documents,
)
from services.registration.domain.documents import parse_bonus_points
from services.registration.domain.reference import SEED_DICT
from zsb.common.errors import InvalidArgument

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TYPE_CODES = {t.name: t.code for t in SEED.candidate_types}

INFO = BasicInfo(
    name="李卫国",
    sex=Sex.MALE,
    ethnicity="01",
    political_status="01",
    birth_date=datetime(2000, 5, 4).date(),
    id_number="140105200005041232",
    phone="13912345678",
    graduated_school="山西工程职业学院",
    college_major_code="460104",
    college_major_name="机械制造及自动化",
    candidate_category="1",
    candidate_type=TYPE_CODES["城镇应届"],
    poverty_registered=False,
    claims_bonus_points=False,
    awards="",
    city_code="01",
    point_code="0113",
    major_category="07",
    music_test_subject="",
    household_province="14",
    household_city="太原市",
    household_district="万柏林区",
    recipient="李卫国",
    recipient_phone="13912345678",
    postal_code="030024",
    mailing_address="山西省太原市万柏林区千峰南路",
    resume=(ResumeRow(datetime(2021, 9, 1).date(), None, "山西工程职业学院", "学生"),),
)


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("农村应届", set()),
        ("城镇应届", set()),
        ("农村往届", set()),
        ("城镇往届", set()),
        ("退役士兵", {DocumentKind.CONSCRIPT}),
        ("退役复学人员", {DocumentKind.CONSCRIPT}),
        ("退役（外省学籍，本省入伍）复学人员", {DocumentKind.CONSCRIPT}),
    ],
)
def test_candidate_types(type_name: str, expected: set[DocumentKind]) -> None:
    info = replace(INFO, candidate_type=TYPE_CODES[type_name])
    assert required_documents(info, SEED) == expected
    assert info.required_documents(SEED) == expected


def test_bonus_points_and_poverty_add_their_materials() -> None:
    assert required_documents(replace(INFO, claims_bonus_points=True), SEED) == {DocumentKind.BONUS_POINTS}
    assert required_documents(replace(INFO, poverty_registered=True), SEED) == {DocumentKind.POVERTY_REGISTERED}
    veteran_with_all = replace(
        INFO, candidate_type=TYPE_CODES["退役士兵"], claims_bonus_points=True, poverty_registered=True
    )
    assert required_documents(veteran_with_all, SEED) == set(DocumentKind)


def test_labels() -> None:
    assert [k.label for k in DocumentKind] == ["义务兵材料", "奖励加分材料", "建档立卡材料"]
    assert [s.label for s in QualificationStatus] == ["待上传", "审核中", "审核通过", "审核不通过"]


def test_the_province_decides_which_types_need_materials() -> None:
    types = [{**t, "documents": ["conscript"]} if t["name"] == "农村往届" else t for t in SEED_DICT["candidate_types"]]
    custom = ReferenceData.from_dict({**SEED_DICT, "candidate_types": types})
    info = replace(INFO, candidate_type=TYPE_CODES["农村往届"])
    assert required_documents(info, SEED) == set()
    assert required_documents(info, custom) == {DocumentKind.CONSCRIPT}


def test_no_materials_means_the_review_passes_by_itself() -> None:
    review = QualificationReview.start(required_documents(INFO, SEED), T0)
    assert (review.status, review.automatic, review.decided_at) == (QualificationStatus.APPROVED, True, T0)
    assert not review.accepts_uploads
    veteran = replace(INFO, candidate_type=TYPE_CODES["退役复学人员"])
    review = QualificationReview.start(required_documents(veteran, SEED), T0)
    assert (review.status, review.automatic) == (QualificationStatus.PENDING_UPLOAD, False)
    assert review.accepts_uploads


# --- 奖励加分 granted by the review ------------------------------------------------------------


def under_review(*required: DocumentKind) -> QualificationReview:
    return QualificationReview.start(required, T0).submit(required, T0)


@pytest.mark.parametrize(("typed", "points"), [("0", 0), ("7", 7), (" 10 ", 10), ("０８", 8), ("10\n", 10)])
def test_bonus_points_are_whole_points_within_the_cap(typed: str, points: int) -> None:
    assert parse_bonus_points(typed, 10) == points


@pytest.mark.parametrize("typed", ["", " ", "十", "abc", "-1", "+3", "2.5", "1e1", "11", "0x5", "1 0", "5分"])
def test_anything_else_is_refused_for_the_field(typed: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_bonus_points(typed, 10)
    assert (info.value.reason, info.value.field) == ("BAD_BONUS_POINTS", "bonus_points")
    assert info.value.message == "奖励加分须为0至10之间的整数（单位：分）"


def test_a_claimant_must_be_granted_points_explicitly() -> None:
    review = under_review(DocumentKind.CONSCRIPT, DocumentKind.BONUS_POINTS)
    assert review.claims_bonus_points
    with pytest.raises(InvalidArgument) as info:
        review.approve(T0, "")
    assert (info.value.reason, info.value.field) == ("BONUS_POINTS_REQUIRED", "bonus_points")
    with pytest.raises(InvalidArgument):
        review.approve(T0, "6", maximum=5)  # the province's cap
    approved = review.approve(T0, "6")
    assert (approved.status, approved.bonus_points) == (QualificationStatus.APPROVED, 6)
    assert review.approve(T0, "0").bonus_points == 0  # the award does not qualify: no points


def test_no_points_without_a_claim_and_a_rejection_clears_them() -> None:
    review = under_review(DocumentKind.POVERTY_REGISTERED)
    assert not review.claims_bonus_points
    for typed in ("", "0", "０"):
        assert review.approve(T0, typed).bonus_points == 0
    for typed in ("3", "abc"):
        with pytest.raises(InvalidArgument) as info:
            review.approve(T0, typed)
        assert info.value.reason == "BONUS_NOT_CLAIMED"
    claimant = under_review(DocumentKind.BONUS_POINTS)
    assert replace(claimant, bonus_points=4).reject("获奖证书与姓名不符", T0).bonus_points == 0


def test_the_cap_lives_in_the_reference_data() -> None:
    assert SEED.bonus_points_max == 10 and SEED.to_dict()["bonus_points_max"] == 10
    older = {k: v for k, v in SEED_DICT.items() if k != "bonus_points_max"}  # stored before the cap existed
    assert ReferenceData.from_dict(older).bonus_points_max == 10
    assert ReferenceData.from_dict({**SEED_DICT, "bonus_points_max": 0}).bonus_points_max == 0
    for bad in (-1, 101, "8", 2.5, True, None):
        with pytest.raises(ValueError, match="bonus_points_max"):
            ReferenceData.from_dict({**SEED_DICT, "bonus_points_max": bad})
