"""Property tests of the dispatch engine on random instances.

- the numpy engine equals the plain-Python reference (``run_naive``) field by field;
- no plan takes more than its dispatch quota;
- stability: every usable preference before a candidate's dispatch (or every usable
  preference of an undispatched candidate) was full of candidates ahead of them;
- the result per candidate does not depend on the input order;
- cross-check: with one common order and a 1:1 ratio, the dispatch equals
  student-proposing deferred acceptance (``matching``'s hospital-resident solver).
"""

from __future__ import annotations

import dataclasses
import random
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching.games import HospitalResident

from services.results.domain.admission import (
    AdmissionConfig,
    BatchConfig,
    Candidate,
    EncodedInput,
    Explainer,
    PlanEntry,
    Return,
    RunResult,
    Stage,
    StageStatus,
    differences,
    dispatch,
    encode,
    run_admission,
    run_encoded,
    run_naive,
)

CATEGORIES = ("计算机类", "经济与管理类", "教育类")
PROGRAMMES = [(f"101{i:02d}", f"0{i % 3}0901") for i in range(6)]
BATCHES = ("jdlk", "ordinary")
# No example database: nothing is written into the work tree.
SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw: st.DrawFn, wide: bool = False) -> tuple[list[Candidate], list[PlanEntry], AdmissionConfig]:
    """Small instances with many ties (narrow score ranges, colliding random codes);
    ``wide`` spreads tie-break fields so the ranking cannot pack them into 64 bits."""
    categories = CATEGORIES[: draw(st.integers(1, 3))]
    programmes = PROGRAMMES[: draw(st.integers(1, 6))]
    keys = [(b, p, c) for b in BATCHES for p in programmes for c in categories]
    chosen = [key for key in keys if draw(st.integers(0, 3))]  # most programmes have plans
    plans = [PlanEntry(b, *p, c, draw(st.integers(0, 4))) for b, p, c in chosen]
    tie_break = ("专业课", "公共课")[: draw(st.integers(0, 2))]
    field_max = 100_000 if wide else 3
    slot = st.one_of(st.none(), st.sampled_from([*programmes, ("99999", "000000")]))

    def slots() -> tuple:
        picked = draw(st.lists(slot, min_size=1, max_size=8))
        seen: set = set()
        return tuple(None if s in seen or seen.add(s) else s for s in picked)  # type: ignore[func-returns-value]

    candidates = []
    for i in range(draw(st.integers(0, 25))):
        candidates.append(
            Candidate(
                candidate_id=f"c{draw(st.integers(0, 9))}{i:02d}",
                category=draw(st.sampled_from(categories)),
                score=draw(st.integers(0, 6)) if not wide else draw(st.integers(0, 100_000)),
                bonus=draw(st.sampled_from([0, 0, 1])),
                jdlk=draw(st.booleans()),
                random_code=draw(st.one_of(st.integers(0, 2), st.integers(0, (1 << 64) - 1))),
                tie_break={name: draw(st.integers(0, field_max)) for name in tie_break},
                preferences={b: slots() for b in BATCHES if draw(st.integers(0, 3))},
                solicitation={b: slots() for b in BATCHES if draw(st.booleans())},
            )
        )
    batches = tuple(
        BatchConfig(
            code=code,
            name=name,
            jdlk_only=code == "jdlk",
            control_lines={c: draw(st.integers(0, 3)) for c in categories if draw(st.booleans())},
            default_line=draw(st.integers(0, 2)),
            ratio_percent=draw(st.sampled_from([100, 100, 105, 120])),
            solicitation=draw(st.booleans()),
        )
        for code, name in (("jdlk", "建档立卡专项批本科"), ("ordinary", "普通批本科"))
    )
    if draw(st.booleans()):
        batches = batches[::-1]
    return candidates, plans, AdmissionConfig(batches=batches, tie_break=tie_break)


def draw_returns(draw: st.DrawFn, candidates: list[Candidate], plans: list[PlanEntry], config: AdmissionConfig) -> list:
    """Returns of dispatched candidates, stage by stage (a return changes later stages)."""
    returns: list[Return] = []
    for index in range(2 * len(config.batches)):
        result = run_admission(candidates, plans, config, returns)
        if index >= len(result.stages):
            break
        stage = result.stages[index]
        dispatched = [result.candidate_ids[i] for i in np.flatnonzero(stage.status == StageStatus.DISPATCHED)]
        for cid in draw(st.lists(st.sampled_from(dispatched), unique=True) if dispatched else st.just([])):
            returns.append(Return(cid, stage.batch, f"退档原因{len(returns)}", stage.stage))
    return returns


def unique_ids(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    return [c for c in candidates if not (c.candidate_id in seen or seen.add(c.candidate_id))]  # type: ignore[func-returns-value]


def assert_quota_and_stability(data: EncodedInput, result: RunResult) -> None:
    for outcome in result.stages:
        assert (outcome.dispatched <= outcome.quota).all()
        assert (outcome.returned <= outcome.dispatched).all()
        prefs = (data.preferences if outcome.stage is Stage.REGULAR else data.solicitation)[outcome.batch]
        dispatched_to = outcome.plan
        took_part = (outcome.status == StageStatus.DISPATCHED) | (outcome.status == StageStatus.RETURNED)
        assert np.array_equal(np.bincount(dispatched_to[took_part], minlength=len(data.plans)), outcome.dispatched)
        for i in np.flatnonzero(took_part | (outcome.status == StageStatus.NOT_DISPATCHED)):
            stop = int(outcome.slot[i]) if took_part[i] else prefs.shape[1]
            for k in range(stop):
                j = int(prefs[i, k])
                if j < 0:
                    continue
                if outcome.stage is Stage.SOLICITATION:
                    regular = next(s for s in result.stages if s.batch == outcome.batch and s.stage is Stage.REGULAR)
                    if regular.status[i] == StageStatus.RETURNED and regular.plan[i] == j:
                        continue  # the plan that returned them is barred, full or not
                holders = np.flatnonzero(took_part & (dispatched_to == j))
                assert len(holders) == outcome.quota[j], "an earlier preference had room"
                assert (result.rank[holders] < result.rank[i]).all(), "an earlier preference took someone behind"


@SETTINGS
@given(st.data())
def test_fast_engine_equals_reference_and_is_stable(data: st.DataObject) -> None:
    candidates, plans, config = data.draw(instances())
    candidates = unique_ids(candidates)
    returns = draw_returns(data.draw, candidates, plans, config)
    fast = run_admission(candidates, plans, config, returns)
    assert differences(fast, run_naive(candidates, plans, config, returns)) == []
    encoded = encode(candidates, plans, config)
    assert_quota_and_stability(encoded, fast)
    explainer = Explainer(encoded, fast)
    for i, outcome in enumerate(explainer.outcomes()):
        assert outcome.explanation.startswith("已投档" if fast.final_stage[i] >= 0 else "未投档")
        if outcome.dispatched:
            assert outcome.slot in outcome.explanation


@settings(max_examples=100, deadline=None, database=None)
@given(st.data())
def test_wide_tie_break_fields_and_code_collisions_rank_like_the_reference(data: st.DataObject) -> None:
    candidates, plans, config = data.draw(instances(wide=True))
    candidates = unique_ids(candidates)
    assert differences(run_admission(candidates, plans, config), run_naive(candidates, plans, config)) == []


@settings(max_examples=150, deadline=None, database=None)
@given(st.data())
def test_result_does_not_depend_on_input_order(data: st.DataObject) -> None:
    candidates, plans, config = data.draw(instances())
    candidates = unique_ids(candidates)
    returns = draw_returns(data.draw, candidates, plans, config)
    shuffled_c = data.draw(st.permutations(candidates))
    shuffled_p = data.draw(st.permutations(plans))
    a = run_admission(candidates, plans, config, returns)
    b = run_admission(shuffled_c, shuffled_p, config, returns)
    assert differences(a, run_admission(candidates, plans, config, returns)) == []
    for i, cid in enumerate(a.candidate_ids):
        k = b.candidate_ids.index(cid)
        assert a.rank[i] == b.rank[k]
        assert a.final_plan(i) == b.final_plan(k)
        assert [s.status[i] for s in a.stages] == [s.status[k] for s in b.stages]


@settings(max_examples=200, deadline=None, database=None)
@given(
    rows=st.lists(st.lists(st.integers(-3, 5), min_size=1, max_size=4), min_size=0, max_size=3000),
    quota=st.lists(st.integers(0, 40), min_size=6, max_size=6),
)
def test_dispatch_kernel_equals_the_one_by_one_loop(rows: list[list[int]], quota: list[int]) -> None:
    width = max((len(r) for r in rows), default=1)
    matrix = np.array([r + [-1] * (width - len(r)) for r in rows], np.int32).reshape(len(rows), width)
    plan, slot = dispatch(matrix, np.array(quota, np.int64))
    remaining = list(quota)
    for i, row in enumerate(matrix.tolist()):
        expected = next(((k, p) for k, p in enumerate(row) if p >= 0 and remaining[p] > 0), None)
        if expected is None:
            assert (plan[i], slot[i]) == (-1, -1)
        else:
            remaining[expected[1]] -= 1
            assert (slot[i], plan[i]) == expected


def test_dispatch_kernel_on_many_windows() -> None:
    """Thousands of rows and plans that fill at different times exercise the window logic."""
    rng = np.random.default_rng(7)
    rows = rng.integers(-1, 300, size=(60_000, 8)).astype(np.int32)
    quota = rng.integers(0, 250, size=300).astype(np.int64)
    plan, slot = dispatch(rows, quota)
    remaining = quota.tolist()
    for i, row in enumerate(rows.tolist()):
        k = next((k for k, p in enumerate(row) if p >= 0 and remaining[p] > 0), -1)
        assert slot[i] == k
        if k >= 0:
            remaining[row[k]] -= 1
            assert plan[i] == row[k]


def deferred_acceptance(candidates: list[Candidate], plans: list[PlanEntry], order: list[int]) -> dict[str, int]:
    """Student-proposing deferred acceptance by the ``matching`` package; every plan ranks
    candidates in the one common order."""
    plan_of = {(p.institution, p.major, p.category): j for j, p in enumerate(plans)}
    resident_prefs: dict[str, list[str]] = {}
    for c in candidates:
        wanted = []
        for programme in c.preferences.get("ordinary", ()):
            j = None if programme is None else plan_of.get((*programme, c.category))
            if j is not None and plans[j].places > 0:
                wanted.append(f"p{j}")
        if wanted:
            resident_prefs[c.candidate_id] = wanted
    hospital_prefs = {
        f"p{j}": [
            candidates[i].candidate_id for i in order if f"p{j}" in resident_prefs.get(candidates[i].candidate_id, [])
        ]
        for j, p in enumerate(plans)
    }
    hospital_prefs = {h: r for h, r in hospital_prefs.items() if r}
    if not resident_prefs:
        return {}
    game = HospitalResident.create_from_dictionaries(
        resident_prefs, hospital_prefs, {h: plans[int(h[1:])].places for h in hospital_prefs}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a malformed game must fail the test, not be "cleaned"
        matching = game.solve(optimal="resident")
    assert game.check_validity() and game.check_stability()
    return {r.name: int(h.name[1:]) for h, residents in matching.items() for r in residents}


@settings(max_examples=300, deadline=None, database=None)
@given(st.data())
def test_dispatch_equals_student_proposing_deferred_acceptance(data: st.DataObject) -> None:
    candidates, plans, config = data.draw(instances())
    candidates = [
        dataclasses.replace(c, preferences={"ordinary": c.preferences.get("ordinary", ())}, solicitation={})
        for c in unique_ids(candidates)
    ]
    plans = [p for p in plans if p.batch == "ordinary"]
    config = AdmissionConfig(
        batches=(BatchConfig("ordinary", "普通批本科", default_line=0, ratio_percent=100, solicitation=False),),
        tie_break=config.tie_break,
    )
    result = run_encoded(encode(candidates, plans, config))
    order = [int(i) for i in np.argsort(result.rank)]
    expected = deferred_acceptance(candidates, plans, order)
    stage = result.stages[0]
    got = {result.candidate_ids[i]: int(stage.plan[i]) for i in np.flatnonzero(stage.status == StageStatus.DISPATCHED)}
    assert got == expected


def test_deferred_acceptance_cross_check_on_larger_random_instances() -> None:
    """A few hundred candidates competing for a dozen plans, several seeds."""
    for seed in range(5):
        rnd = random.Random(seed)
        programmes = [(f"2{i:04d}", "080901") for i in range(12)]
        plans = [PlanEntry("ordinary", *p, "计算机类", rnd.randint(0, 30)) for p in programmes]
        candidates = [
            Candidate(
                candidate_id=f"25{i:06d}",
                category="计算机类",
                score=rnd.randint(150, 200),
                random_code=rnd.getrandbits(64),
                preferences={"ordinary": tuple(rnd.sample(programmes, rnd.randint(1, 8)))},
            )
            for i in range(300)
        ]
        config = AdmissionConfig(batches=(BatchConfig("ordinary", "普通批本科", default_line=0, solicitation=False),))
        result = run_encoded(encode(candidates, plans, config))
        expected = deferred_acceptance(candidates, plans, [int(i) for i in np.argsort(result.rank)])
        stage = result.stages[0]
        got = {result.candidate_ids[i]: int(stage.plan[i]) for i in np.flatnonzero(stage.plan >= 0)}
        assert got == expected
        assert len(got) > 100
