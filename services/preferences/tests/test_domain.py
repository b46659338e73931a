"""The rules of plans, windows, eligibility and one submission, without I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.preferences.domain.batches import JDLK, ORDINARY, Window, WindowState, check_window
from services.preferences.domain.eligibility import Facts
from services.preferences.domain.filling import Choice, Offer, check_choices, digest
from services.preferences.domain.plan import check_plan
from services.preferences.tests.helpers import PLAN

FIELDS = ("batch", "institution_code", "institution_name", "major_code", "major_name", "major_category", "places")


def rows(*lines: tuple[str, ...]) -> list[dict[str, str]]:
    return [dict(zip(FIELDS, line, strict=True)) for line in lines]


# ---- plan ----


def test_a_good_plan_gives_one_line_per_row_with_batch_codes() -> None:
    lines, problems = check_plan(rows(*PLAN))
    assert not problems and len(lines) == len(PLAN)
    assert {line.batch_code for line in lines} == {"jdlk", "ordinary"}
    assert lines[0].places == 30 and lines[0].institution_name == "山西大学"


def test_every_bad_field_of_every_row_is_reported() -> None:
    lines, problems = check_plan(
        rows(
            ("普通批本科", "10108", "山西大学", "01", "会计学", "01", "30"),
            ("提前批", "1", "", "01!", "会计学", "1", "0"),
            ("普通批本科", "10112", "太原\u202e理工", "01", "计算机", "08", "abc"),
        )
    )
    assert lines == []
    assert [(p.row, p.field) for p in problems] == [
        (2, "batch"),
        (2, "institution_code"),
        (2, "institution_name"),
        (2, "major_code"),
        (2, "major_category"),
        (2, "places"),
        (3, "institution_name"),
        (3, "places"),
    ]
    messages = {p.field: p.message for p in problems if p.row == 2}
    assert messages["batch"] == "批次不正确，应为建档立卡专项批本科或普通批本科"
    assert messages["places"] == "计划数应为1-99999的整数"


def test_inconsistent_names_categories_and_duplicates_are_reported() -> None:
    _, problems = check_plan(
        rows(
            ("普通批本科", "10108", "山西大学", "01", "会计学", "01", "30"),
            ("普通批本科", "10108", "山西大學", "02", "财务管理", "01", "20"),
            ("建档立卡专项批本科", "10108", "山西大学", "01", "会计", "02", "5"),
            ("普通批本科", "10108", "山西大学", "01", "会计学", "01", "9"),
        )
    )
    assert [(p.row, p.field, p.message) for p in problems] == [
        (2, "institution_name", "院校代号10108在第1行的名称为“山西大学”，与本行不一致"),
        (3, "major_name", "专业代号01在第1行的名称为“会计学”，与本行不一致"),
        (3, "major_category", "专业代号01在第1行的报考专业类别为01，与本行不一致"),
        (4, "major_code", "与第1行重复：同一批次同一院校的专业只能有一行计划"),
    ]


def test_an_empty_file_is_refused() -> None:
    assert [p.message for p in check_plan([])[1]] == ["导入文件中没有招生计划数据"]


# ---- windows ----

T0 = datetime(2026, 6, 20, 1, 0)  # 09:00 Beijing


def test_window_states_and_texts_in_beijing_time() -> None:
    w = Window(T0, T0 + timedelta(days=3))
    assert Window(None, None).state(T0) is WindowState.NOT_SCHEDULED
    assert w.state(T0 - timedelta(seconds=1)) is WindowState.NOT_YET_OPEN
    assert w.state(T0) is WindowState.OPEN
    assert w.state(T0 + timedelta(days=3)) is WindowState.CLOSED
    assert "将于 2026-06-20 09:00 开放" in w.text(T0 - timedelta(hours=1))
    assert w.closed_reason(T0 + timedelta(days=4)) == "本批次填报已于 2026-06-23 09:00 结束，不能再提交或修改"
    assert w.closed_reason(T0) == ""
    assert Window(None, None).closed_reason(T0) == "本批次填报时间尚未公布，暂不能填报"


def test_a_batch_window_reads_like_the_calendars_lines() -> None:
    w, label = Window(T0, T0 + timedelta(days=3)), "普通批本科志愿填报"
    assert str(Window(None, None).line(label, T0)) == "普通批本科志愿填报：时间待公布"
    assert str(w.line(label, T0 - timedelta(hours=1))) == "普通批本科志愿填报：未开始（6月20日09:00开始）"
    assert str(w.line(label, T0)) == "普通批本科志愿填报：开放中（至6月23日09:00）"
    assert str(w.line(label, T0 + timedelta(days=3))) == "普通批本科志愿填报：已结束（6月23日09:00结束）"


def test_window_settings_are_checked() -> None:
    assert check_window(None, None) == ""
    assert check_window(T0, None) == "请同时填写开始时间和结束时间"
    assert check_window(T0, T0) == "结束时间须晚于开始时间"
    assert check_window(T0, T0 + timedelta(days=200)) == "填报时间不能超过120天"


# ---- eligibility ----


def test_eligibility_needs_every_step_and_abandoning_ends_it() -> None:
    full = Facts(True, False, True, True, True, False, "01")
    assert full.eligible and full.refusal(ORDINARY) == ""
    assert full.refusal(JDLK) == "建档立卡专项批仅限建档立卡贫困家庭考生填报"
    assert Facts(True, False, True, True, True, True, "01").refusal(JDLK) == ""
    assert Facts().missing() == ["尚未完成报名信息确认", "身份验证尚未通过", "报名费尚未缴纳", "报考资格审核尚未通过"]
    assert Facts(True, False, True, False, True).refusal(ORDINARY) == "暂不能填报志愿：报名费尚未缴纳"
    assert Facts(True, True, True, True, True).missing() == ["已放弃报名"]


# ---- one submission ----

OFFERS = {
    (i, m): Offer(i, f"院校{i}", m, f"专业{m}", cat, 10)
    for i, m, cat in [("10108", "01", "01"), ("10108", "02", "01"), ("10108", "03", "03"), ("10125", "01", "01")]
}


def check(*cs: Choice) -> list[tuple[str, str, str]]:
    items, problems = check_choices(list(cs), OFFERS, "01")
    assert not (items and problems)
    return [(p.slot, p.field, p.message) for p in problems]


def test_valid_choices_become_items_in_slot_order_with_plan_names() -> None:
    items, problems = check_choices([Choice("B", "10125", "01"), Choice("A", "10108", "01", "10108")], OFFERS, "01")
    assert not problems
    assert [(i.slot, i.institution_code, i.institution_name, i.major_name) for i in items] == [
        ("A", "10108", "院校10108", "专业01"),
        ("B", "10125", "院校10125", "专业01"),
    ]


def test_each_rule_has_its_own_message() -> None:
    assert check(Choice("A", "10108", "")) == [("A", "major", "平行志愿A：请选择专业")]
    assert check(Choice("A", "10108", "01", "10125")) == [
        ("A", "major", "平行志愿A：所选专业不属于所选院校，请重新选择专业")
    ]
    assert check(Choice("A", "99999", "01")) == [("A", "institution", "平行志愿A：院校99999在本批次没有招生计划")]
    assert check(Choice("A", "10108", "09")) == [("A", "major", "平行志愿A：专业09不是该院校在本批次的招生专业")]
    assert check(Choice("A", "10108", "03")) == [("A", "major", "平行志愿A：所选专业不属于您的报考专业类别，不能填报")]
    assert check(Choice("A", "10108", "01"), Choice("C", "10125", "01")) == [
        ("B", "institution", "平行志愿B未填写：请从平行志愿A起依次填报，中间不能空缺")
    ]
    assert check(Choice("A", "10108", "01"), Choice("B", "10108", "01")) == [
        ("B", "major", "平行志愿B与平行志愿A的院校和专业相同，同一批次不能重复填报")
    ]
    assert check() == [("A", "institution", "请至少填报平行志愿A")]
    assert check(Choice("I", "10108", "01")) == [
        ("", "", "志愿位置“I”不正确，只能是平行志愿A至H"),
        ("A", "institution", "请至少填报平行志愿A"),
    ]


def test_a_major_picked_without_its_institution_brings_the_institution() -> None:
    items, problems = check_choices([Choice("A", "", "01", "10125")], OFFERS, "01")
    assert not problems and items[0].institution_code == "10125"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ([Choice("A", "10108", "01")], [Choice("A", "10108", "01")], True),
        ([Choice("A", "10108", "01"), Choice("B", "", "")], [Choice("A", " 10108 ", "01")], True),
        ([Choice("A", "10108", "01")], [Choice("A", "10108", "02")], False),
    ],
)
def test_digest_tells_a_retry_from_a_different_submission(a: list[Choice], b: list[Choice], same: bool) -> None:
    assert (digest("ordinary", a) == digest("ordinary", b)) is same
    assert digest("ordinary", a) != digest("jdlk", a)
