"""Hand-made cases of the parallel-preference dispatch (平行志愿投档) and its explanations."""

from __future__ import annotations

import dataclasses

import pytest

from services.results.domain.admission import (
    AdmissionConfig,
    AdmissionInputError,
    BatchConfig,
    Candidate,
    Explainer,
    PlanEntry,
    Return,
    RunResult,
    Stage,
    StageStatus,
    differences,
    encode,
    plan_outcomes,
    run_admission,
    run_naive,
)

CS = "计算机类"
ECON = "经济与管理类"
SXU = ("10108", "080901")  # 山西大学 计算机科学与技术
TYUT = ("10112", "080901")  # 太原理工大学 计算机科学与技术
SXUFE = ("10125", "120203")  # 山西财经大学 会计学

JDLK = BatchConfig("jdlk", "建档立卡专项批本科", jdlk_only=True, default_line=150)
ORDINARY = BatchConfig("ordinary", "普通批本科", default_line=150)
CONFIG = AdmissionConfig(batches=(JDLK, ORDINARY))


def plan(programme: tuple[str, str], places: int, category: str = CS, batch: str = "ordinary") -> PlanEntry:
    names = {SXU: ("山西大学", "计算机科学与技术"), TYUT: ("太原理工大学", "计算机科学与技术")}
    inst, major = names.get(programme, ("山西财经大学", "会计学"))
    return PlanEntry(batch, *programme, category, places, inst, major)


def cand(
    cid: str,
    score: int,
    *prefs: tuple[str, str] | None,
    category: str = CS,
    jdlk: bool = False,
    code: int = 0,
    tie: dict[str, int] | None = None,
    special: tuple[tuple[str, str] | None, ...] = (),
    solicit: tuple[tuple[str, str] | None, ...] = (),
    bonus: int = 0,
) -> Candidate:
    preferences = {"ordinary": prefs} if prefs else {}
    if special:
        preferences["jdlk"] = special
    return Candidate(
        candidate_id=cid,
        category=category,
        score=score,
        bonus=bonus,
        jdlk=jdlk,
        random_code=code,
        tie_break=tie or {},
        preferences=preferences,
        solicitation={"ordinary": solicit} if solicit else {},
    )


def run(
    candidates: list[Candidate],
    plans: list[PlanEntry],
    config: AdmissionConfig = CONFIG,
    returns: tuple[Return, ...] = (),
) -> tuple[RunResult, Explainer]:
    result = run_admission(candidates, plans, config, returns)
    assert differences(result, run_naive(candidates, plans, config, returns)) == []
    return result, Explainer(encode(candidates, plans, config), result)


def placed(result: RunResult, cid: str) -> tuple[str, str, tuple[str, str], str] | None:
    """(batch, stage, programme, slot letter) of the candidate's standing dispatch."""
    i = result.candidate_ids.index(cid)
    s = int(result.final_stage[i])
    if s < 0:
        return None
    stage = result.stages[s]
    return (stage.batch, stage.stage.value, result.plans[int(stage.plan[i])].programme, "ABCDEFGH"[stage.slot[i]])


def status(result: RunResult, cid: str, batch: str = "ordinary", stage: Stage = Stage.REGULAR) -> StageStatus:
    i = result.candidate_ids.index(cid)
    outcome = next(s for s in result.stages if s.batch == batch and s.stage == stage)
    return StageStatus(int(outcome.status[i]))


def explain(explainer: Explainer, cid: str) -> str:
    return explainer.explain(explainer.result.candidate_ids.index(cid))


def test_score_first_then_preference_order_and_explanation() -> None:
    plans = [plan(SXU, 1), plan(TYUT, 2)]
    candidates = [
        cand("a", 240, SXU, TYUT),
        cand("b", 236, SXU, TYUT),
        cand("c", 238, TYUT, SXU),
        cand("d", 230, SXU, TYUT),
    ]
    result, explainer = run(candidates, plans)
    assert placed(result, "a") == ("ordinary", "regular", SXU, "A")
    assert placed(result, "c") == ("ordinary", "regular", TYUT, "A")
    assert placed(result, "b") == ("ordinary", "regular", TYUT, "B")
    assert placed(result, "d") is None
    assert "平行志愿A 已满: 最低投档分 240" in explain(explainer, "b")
    assert explain(explainer, "b").startswith("已投档: 普通批本科 平行志愿B 10112 太原理工大学")
    d = explain(explainer, "d")
    assert d.startswith("未投档")
    assert "平行志愿A 已满: 最低投档分 240；平行志愿B 已满: 最低投档分 236；所填志愿均未能投档" in d


def test_bonus_counts_towards_the_dispatch_total() -> None:
    result, explainer = run([cand("a", 235, SXU), cand("b", 230, SXU, bonus=10)], [plan(SXU, 1)])
    assert placed(result, "b") is not None
    assert placed(result, "a") is None
    assert "最低投档分 240" in explain(explainer, "a")


@pytest.mark.parametrize(
    ("ties", "codes", "winner"),
    [
        ({"a": (120, 80), "b": (121, 70)}, (0, 0), "b"),  # 专业课 decides
        ({"a": (120, 81), "b": (120, 80)}, (0, 0), "a"),  # then 公共课
        ({"a": (120, 80), "b": (120, 80)}, (9, 3), "b"),  # then the smaller random code
        ({"a": (120, 80), "b": (120, 80)}, (5, 5), "a"),  # last, the candidate number
    ],
)
def test_tie_break_chain(ties: dict[str, tuple[int, int]], codes: tuple[int, int], winner: str) -> None:
    config = dataclasses.replace(CONFIG, tie_break=("专业课", "公共课"))
    candidates = [
        cand(cid, 200, SXU, code=code, tie={"专业课": ties[cid][0], "公共课": ties[cid][1]})
        for cid, code in zip(("b", "a"), reversed(codes), strict=True)  # input order must not matter
    ]
    result, explainer = run(candidates, [plan(SXU, 1)], config)
    loser = "a" if winner == "b" else "b"
    assert placed(result, winner) is not None
    assert placed(result, loser) is None
    assert "最低投档分 200（同分，排序在后）" in explain(explainer, loser)
    assert result.rank[result.candidate_ids.index(winner)] < result.rank[result.candidate_ids.index(loser)]


def test_same_input_gives_the_same_result_every_time() -> None:
    candidates = [cand(f"c{i}", 200 + i % 3, SXU, TYUT, code=(i * 7919) % 13) for i in range(40)]
    plans = [plan(SXU, 5), plan(TYUT, 7)]
    first, _ = run(candidates, plans)
    assert differences(first, run_admission(candidates, plans, CONFIG)) == []
    assert differences(first, run_admission(list(reversed(candidates)), plans, CONFIG)) != []  # input order kept
    again = run_admission(list(reversed(candidates)), plans, CONFIG)
    for cid in first.candidate_ids:
        assert placed(first, cid) == placed(again, cid)


def test_control_line_per_category_and_at_the_line_qualifies() -> None:
    config = AdmissionConfig(batches=(dataclasses.replace(ORDINARY, control_lines={CS: 200, ECON: 180}),))
    plans = [plan(SXU, 5), plan(SXUFE, 5, category=ECON)]
    candidates = [
        cand("at", 200, SXU),
        cand("below", 199, SXU),
        cand("econ", 185, SXUFE, category=ECON),
    ]
    result, explainer = run(candidates, plans, config)
    assert placed(result, "at") is not None
    assert placed(result, "econ") is not None
    assert placed(result, "below") is None
    assert status(result, "below") is StageStatus.BELOW_LINE
    assert "投档总分 199 低于 计算机类 控制线 200" in explain(explainer, "below")


def test_missing_control_line_is_refused() -> None:
    config = AdmissionConfig(batches=(BatchConfig("ordinary", "普通批本科", control_lines={CS: 200}),))
    with pytest.raises(AdmissionInputError, match="未设置 经济与管理类 类控制线"):
        run_admission([cand("a", 200, SXUFE, category=ECON)], [plan(SXUFE, 1, category=ECON)], config)


def test_full_plans_and_lowest_admitted_score_per_plan() -> None:
    plans = [plan(SXU, 2), plan(TYUT, 1)]
    candidates = [cand(f"c{s}", s, SXU, TYUT) for s in (250, 245, 240, 235, 230)]
    result, explainer = run(candidates, plans)
    rows = {(po.plan.programme, po.stage): po for po in plan_outcomes(result)}
    sxu, tyut = rows[(SXU, Stage.REGULAR)], rows[(TYUT, Stage.REGULAR)]
    assert (sxu.admitted, sxu.lowest_admitted, tyut.admitted, tyut.lowest_admitted) == (2, 245, 1, 240)
    assert [placed(result, f"c{s}") is not None for s in (250, 245, 240, 235, 230)] == [True] * 3 + [False] * 2
    assert status(result, "c230") is StageStatus.NOT_DISPATCHED
    assert "平行志愿B 已满: 最低投档分 240" in explain(explainer, "c230")


def test_zero_place_plan_is_explained() -> None:
    result, explainer = run([cand("a", 200, SXU, TYUT)], [plan(SXU, 0), plan(TYUT, 1)])
    assert placed(result, "a") == ("ordinary", "regular", TYUT, "B")
    assert "平行志愿A 无招生计划" in explain(explainer, "a")


def test_empty_slots_are_skipped() -> None:
    result, _ = run([cand("a", 200, None, None, TYUT)], [plan(TYUT, 1)])
    assert placed(result, "a") == ("ordinary", "regular", TYUT, "C")


def test_category_mismatch_and_unknown_programme_are_invalid_preferences() -> None:
    plans = [plan(SXUFE, 5, category=ECON), plan(TYUT, 5)]
    candidates = [cand("a", 250, SXUFE, ("99999", "000000"), TYUT)]
    result, explainer = run(candidates, plans)
    assert placed(result, "a") == ("ordinary", "regular", TYUT, "C")
    text = explain(explainer, "a")
    assert "平行志愿A 无效: 该院校专业不招收 计算机类 考生" in text
    assert "平行志愿B 无效: 本批次无此院校专业" in text
    only_invalid, _ = run([cand("b", 250, SXUFE)], plans)
    assert status(only_invalid, "b") is StageStatus.NOT_DISPATCHED


def test_a_plan_admits_only_its_category_even_with_places_left() -> None:
    plans = [plan(SXU, 1, category=CS), plan(SXU, 3, category=ECON)]
    candidates = [cand("cs1", 250, SXU), cand("cs2", 240, SXU), cand("econ", 200, SXU, category=ECON)]
    result, _ = run(candidates, plans)
    assert placed(result, "cs1") is not None
    assert placed(result, "cs2") is None  # the 经济与管理类 places are not for them
    assert result.plans[int(result.stages[2].plan[2])].category == ECON


def test_only_jdlk_candidates_take_part_in_the_special_batch() -> None:
    plans = [plan(SXU, 1, batch="jdlk"), plan(TYUT, 5)]
    candidates = [
        cand("rich", 260, TYUT, special=(SXU,)),
        cand("poor", 200, TYUT, special=(SXU,), jdlk=True),
    ]
    result, explainer = run(candidates, plans)
    assert placed(result, "poor") == ("jdlk", "regular", SXU, "A")
    assert status(result, "rich", "jdlk") is StageStatus.INELIGIBLE
    assert placed(result, "rich") == ("ordinary", "regular", TYUT, "A")
    assert "建档立卡专项批本科: 不符合报考条件（仅限建档立卡考生）" in explain(explainer, "rich")


def test_batch_order_and_no_second_dispatch_after_a_batch() -> None:
    plans = [plan(SXU, 1, batch="jdlk"), plan(TYUT, 1)]
    candidates = [cand("p", 200, TYUT, special=(SXU,), jdlk=True), cand("q", 190, TYUT)]
    result, explainer = run(candidates, plans)
    assert placed(result, "p") == ("jdlk", "regular", SXU, "A")
    assert status(result, "p") is StageStatus.ALREADY_ADMITTED
    assert placed(result, "q") == ("ordinary", "regular", TYUT, "A")
    assert "普通批本科" not in explain(explainer, "p")

    reversed_order = AdmissionConfig(batches=(ORDINARY, JDLK))
    result, _ = run(candidates, plans, reversed_order)
    assert placed(result, "p") == ("ordinary", "regular", TYUT, "A")
    assert placed(result, "q") is None
    assert status(result, "p", "jdlk") is StageStatus.ALREADY_ADMITTED


@pytest.mark.parametrize(
    ("places", "ratio", "quota"), [(10, 100, 10), (10, 105, 11), (20, 105, 21), (1, 105, 2), (0, 105, 0)]
)
def test_ratio_opens_ceil_of_places_times_ratio(places: int, ratio: int, quota: int) -> None:
    config = AdmissionConfig(batches=(dataclasses.replace(ORDINARY, ratio_percent=ratio, solicitation=False),))
    candidates = [cand(f"c{i:02d}", 200 + i, SXU) for i in range(30)]
    result, _ = run(candidates, [plan(SXU, places)], config)
    assert int(result.stages[0].quota[0]) == quota
    assert int(result.stages[0].dispatched[0]) == quota
    assert sorted(int(s) for s in result.rank[result.final_stage >= 0]) == list(range(quota))


@pytest.mark.parametrize("ratio", [99, 121, 100.5])
def test_ratio_out_of_range_is_refused(ratio: object) -> None:
    config = AdmissionConfig(batches=(dataclasses.replace(ORDINARY, ratio_percent=ratio),))
    with pytest.raises(AdmissionInputError, match="调档比例"):
        run_admission([], [], config)


def test_returned_candidate_is_not_redispatched_and_the_place_goes_to_solicitation() -> None:
    plans = [plan(SXU, 1), plan(TYUT, 1)]
    candidates = [
        cand("a", 250, SXU, TYUT),  # dispatched to SXU, then returned
        cand("b", 240, SXU),  # SXU full at their turn
        cand("c", 230, solicit=(SXU,)),  # fills the freed place in 征集志愿
        cand("d", 220, TYUT),
    ]
    returns = (Return("a", "ordinary", "体检不合格"),)
    result, explainer = run(candidates, plans, returns=returns)
    assert status(result, "a") is StageStatus.RETURNED
    assert placed(result, "d") == ("ordinary", "regular", TYUT, "A")  # a did not fall through to TYUT
    assert placed(result, "b") is None  # nor does the freed place go back to the regular run
    assert placed(result, "c") == ("ordinary", "solicitation", SXU, "A")
    regular = {po.plan.programme: po for po in plan_outcomes(result) if po.stage is Stage.REGULAR}
    assert (regular[SXU].dispatched, regular[SXU].returned, regular[SXU].admitted) == (1, 1, 0)
    assert regular[SXU].lowest_dispatched == 250 and regular[SXU].lowest_admitted is None
    solicitation = {po.plan.programme: po for po in plan_outcomes(result) if po.stage is Stage.SOLICITATION}
    assert (solicitation[SXU].quota, solicitation[TYUT].quota) == (1, 0)
    text = explain(explainer, "a")
    assert text.startswith("未投档")
    assert "平行志愿A 投档 10108 山西大学 080901 计算机科学与技术，被退档: 体检不合格" in text
    assert "普通批本科征集志愿: 征集志愿A 投档" in explain(explainer, "c")


def test_returned_candidate_may_not_go_back_to_the_returning_plan_in_solicitation() -> None:
    plans = [plan(SXU, 1), plan(TYUT, 2)]
    candidates = [cand("a", 250, SXU, solicit=(SXU, TYUT))]
    result, explainer = run(candidates, plans, returns=(Return("a", "ordinary", "专业受限"),))
    assert placed(result, "a") == ("ordinary", "solicitation", TYUT, "B")
    assert "征集志愿A 不可投: 已被该院校专业退档" in explain(explainer, "a")


def test_candidate_returned_in_the_special_batch_takes_part_in_the_ordinary_batch() -> None:
    plans = [plan(SXU, 1, batch="jdlk"), plan(TYUT, 1)]
    candidates = [cand("p", 200, TYUT, special=(SXU,), jdlk=True)]
    result, _ = run(candidates, plans, returns=(Return("p", "jdlk", "放弃入学"),))
    assert placed(result, "p") == ("ordinary", "regular", TYUT, "A")


def test_returning_a_candidate_who_was_not_dispatched_is_refused() -> None:
    candidates = [cand("a", 250, SXU), cand("b", 240, SXU)]
    for returns in ((Return("b", "ordinary", "x"),), (Return("zz", "ordinary", "x"),), (Return("a", "ordinary", " "),)):
        with pytest.raises(AdmissionInputError):
            run_admission(candidates, [plan(SXU, 1)], CONFIG, returns)
        with pytest.raises(AdmissionInputError):
            run_naive(candidates, [plan(SXU, 1)], CONFIG, returns)


def test_solicitation_uses_vacancies_and_the_same_rules() -> None:
    plans = [plan(SXU, 3), plan(TYUT, 2)]
    candidates = [
        cand("a", 250, SXU, solicit=(TYUT,)),  # admitted in the regular run: skipped
        cand("b", 240, solicit=(SXU, TYUT)),
        cand("c", 245, solicit=(SXU,)),
        cand("d", 140, solicit=(SXU,)),  # below the line
        cand("e", 230, solicit=(SXU,)),
    ]
    result, explainer = run(candidates, plans)
    assert status(result, "a", stage=Stage.SOLICITATION) is StageStatus.ALREADY_ADMITTED
    assert placed(result, "c") == ("ordinary", "solicitation", SXU, "A")
    assert placed(result, "b") == ("ordinary", "solicitation", SXU, "A")
    assert placed(result, "e") is None  # SXU had 2 vacancies, taken by c and b
    assert status(result, "d", stage=Stage.SOLICITATION) is StageStatus.BELOW_LINE
    assert "征集志愿A 已满: 最低投档分 240" in explain(explainer, "e")
    stage = next(s for s in result.stages if s.stage is Stage.SOLICITATION and s.batch == "ordinary")
    assert [int(q) for q in stage.quota] == [2, 2]


def test_no_preferences_is_explained() -> None:
    result, explainer = run([cand("a", 250)], [plan(SXU, 1)])
    assert status(result, "a") is StageStatus.NO_PREFERENCES
    assert explain(explainer, "a") == "未投档。普通批本科: 未填报志愿。"


@pytest.mark.parametrize(
    ("candidates", "plans", "message"),
    [
        ([cand("a", 200), cand("a", 190)], [], "考生号重复"),
        ([cand("a", 200, SXU, SXU)], [plan(SXU, 1)], "重复的院校专业"),
        ([cand("a", 200, *[(f"1{i}", "1") for i in range(9)])], [], "最多 8 个"),
        ([cand("a", -1)], [], "成绩须为"),
        ([], [plan(SXU, 1), plan(SXU, 2)], "重复"),
        ([], [plan(SXU, -1)], "计划数"),
        ([], [plan(SXU, 1, batch="nope")], "批次未配置"),
        ([Candidate("a", CS, 200, preferences={"nope": (SXU,)})], [], "批次 nope 未配置"),
        ([Candidate("a", CS, 200, preferences={"ordinary": ("10108",)})], [], "院校代码, 专业代码"),  # type: ignore[dict-item]
    ],
)
def test_bad_input_is_refused_with_a_chinese_report(
    candidates: list[Candidate], plans: list[PlanEntry], message: str
) -> None:
    with pytest.raises(AdmissionInputError, match=message) as caught:
        run_admission(candidates, plans, CONFIG)
    assert caught.value.problems
    assert caught.value.reason == "admission_input_invalid"


def test_missing_tie_break_field_is_refused() -> None:
    config = dataclasses.replace(CONFIG, tie_break=("专业课",))
    with pytest.raises(AdmissionInputError, match="缺少同分排序字段 专业课"):
        run_admission([cand("a", 200, SXU)], [plan(SXU, 1)], config)
