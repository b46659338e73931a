"""Runs through the service: the same result as the engine on objects, 调档比例, and the guards
that keep a publication true (stale dry runs, changed inputs, frozen settings)."""

from __future__ import annotations

import random

import grpc
import pytest
from sqlalchemy import select

from services.results.adapters.tables import candidates, programmes, run_plans, run_results
from services.results.domain.admission import (
    AdmissionConfig,
    BatchConfig,
    Candidate,
    Explainer,
    PlanEntry,
    derive_random_code,
    encode,
    run_encoded,
)
from services.results.tests.support import BATCH_NAMES, Harness, Person, number, score_csv
from zsb.results.v1 import results_pb2 as pb

SEED = "2026-山西专升本"


def refused(call, code: grpc.StatusCode, reason: str = "") -> None:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code, err.value.details()
    if reason:
        assert dict(err.value.trailing_metadata())["x-error-reason"] == reason


def random_case(rng: random.Random, n: int) -> tuple[list[Person], list[tuple[str, str, str, str, int]]]:
    categories = ["01", "02", "03"]
    programmes_ = [(f"10{100 + i}", f"{j:02d}") for i in range(6) for j in range(1, 6)]
    lines = []
    for k, (inst, major) in enumerate(programmes_):
        lines.append(("ordinary", inst, major, categories[k % 3], rng.randint(0, 12)))
        if k % 2 == 0:  # some majors admit a second category too
            lines.append(("ordinary", inst, major, categories[(k + 1) % 3], rng.randint(0, 5)))
        if k % 3 == 0:
            lines.append(("jdlk", inst, major, categories[k % 3], rng.randint(0, 3)))
    people = []
    for k in range(1, n + 1):
        prefs = {
            "ordinary": rng.sample(programmes_, rng.randint(0, 8)),
            "jdlk": rng.sample(programmes_, rng.randint(0, 4)),
        }
        # coarse scores make many ties, settled by 专业课, 公共课 and the random code
        public, professional = rng.randrange(60, 150, 10), rng.randrange(60, 150, 10)
        people.append(
            Person(
                number(k),
                rng.choice(categories),
                public,
                professional,
                rng.random() < 0.2,
                rng.choice([0, 0, 0, 5]),
                prefs,
            )
        )
    return people, lines


def test_a_run_through_the_service_equals_the_engine_on_objects(harness: Harness) -> None:
    rng = random.Random(20260701)
    people, lines = random_case(rng, 400)
    harness.plan(lines)
    for p in people:
        harness.confirm(p)
    harness.publish_scores(people)
    line_values = {"jdlk": {"01": 150, "02": 160, "03": 140}, "ordinary": {"01": 180, "02": 170, "03": 200}}
    harness.settings(line_values, ratio=105, solicitation={"jdlk": False, "ordinary": False})
    harness.publish_run(harness.run().id)
    last = harness.run()

    config = AdmissionConfig(
        batches=tuple(
            BatchConfig(
                code,
                BATCH_NAMES[code],
                jdlk_only=code == "jdlk",
                control_lines=line_values[code],
                ratio_percent=105,
                solicitation=False,
            )
            for code in ("jdlk", "ordinary")
        ),
        tie_break=("专业课", "公共课"),
    )
    objects = [
        Candidate(
            candidate_id=p.no,
            category=p.category,
            score=p.total,
            bonus=p.bonus,
            jdlk=p.jdlk,
            random_code=derive_random_code(SEED, p.no),
            tie_break={"专业课": p.professional, "公共课": p.public},
            preferences={b: tuple(picks) for b, picks in p.prefs.items()},
        )
        for p in people
    ]
    plans = [PlanEntry(b, i, m, c, n, f"院校{i}", f"专业{m}") for b, i, m, c, n in lines]
    data = encode(objects, plans, config)
    expected = run_encoded(data)
    explainer = Explainer(data, expected)

    with harness.db.unit_of_work() as session:
        got = {
            r.candidate_no: (
                r.dispatch_order,
                r.final_stage,
                (r.institution_code, r.major_code, r.major_category) if r.final_stage >= 0 else None,
            )
            for r in session.execute(
                select(
                    candidates.c.candidate_no,
                    run_results,
                    programmes.c.institution_code,
                    programmes.c.major_code,
                    run_plans.c.major_category,
                )
                .join(candidates, candidates.c.id == run_results.c.candidate_id)
                .join(
                    run_plans,
                    (run_plans.c.run_id == run_results.c.run_id) & (run_plans.c.idx == run_results.c.plan_idx),
                    isouter=True,
                )
                .join(programmes, programmes.c.id == run_plans.c.programme_id, isouter=True)
                .where(run_results.c.run_id == last.id)
            ).all()
        }
    placed = 0
    for i, p in enumerate(people):
        plan = expected.final_plan(i)
        want = (
            int(expected.rank[i]) + 1,
            int(expected.final_stage[i]),
            (plan.institution, plan.major, plan.category) if plan else None,
        )
        assert got[p.no] == want, p.no
        placed += plan is not None
    assert 0 < placed < len(people)
    for i in rng.sample(range(len(people)), 25):
        assert harness.explain(last.id, people[i].no).explanation == explainer.explain(i)


def test_the_ratio_opens_more_places_than_the_plan(harness: Harness) -> None:
    harness.plan([("ordinary", "10108", "01", "01", 1), ("jdlk", "10108", "01", "01", 1)])
    people = [Person(number(k), "01", 100, 100 - k, prefs={"ordinary": [("10108", "01")]}) for k in range(1, 4)]
    for p in people:
        harness.confirm(p)
    harness.publish_scores(people)
    harness.settings({"jdlk": {}, "ordinary": {"01": 0}}, ratio=105, solicitation={"jdlk": False, "ordinary": False})
    harness.publish_run(harness.run().id)  # 建档立卡: nobody takes part
    run = harness.run()
    figures = harness.plans(run.id)[(1, "10108", "01")]
    assert (figures.places, figures.quota, figures.dispatched) == (1, 2, 2)  # ceil(1 × 105%)


def test_guards_of_publication(harness: Harness) -> None:
    harness.plan([("jdlk", "10108", "01", "01", 1), ("ordinary", "10108", "01", "01", 5)])
    first = Person(number(1), "01", 100, 120, jdlk=True, prefs={"jdlk": [("10108", "01")]})
    second = Person(number(2), "01", 100, 110, jdlk=True, prefs={"jdlk": [("10108", "01")]})
    for p in (first, second):
        harness.confirm(p)
    harness.publish_scores([first, second])
    lines = {"jdlk": {"01": 100}, "ordinary": {"01": 100}}
    no_jdlk_solicitation = {"jdlk": False}
    harness.settings(lines, solicitation=no_jdlk_solicitation)
    stub, prov = harness.stub(), harness.province()

    stale = harness.run()
    harness.settings(
        {"jdlk": {"01": 100}, "ordinary": {"01": 110}}, solicitation=no_jdlk_solicitation
    )  # a change after the dry run
    listed = {r.id: r for r in stub.ListRuns(pb.ListRunsRequest(), metadata=prov).runs}
    assert listed[stale.id].stale
    refused(lambda: harness.publish_run(stale.id), grpc.StatusCode.FAILED_PRECONDITION, "RUN_STALE")
    fresh = harness.run()
    harness.publish_run(fresh.id)
    refused(
        lambda: stub.DiscardRun(pb.DiscardRunRequest(run_id=fresh.id), metadata=prov),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_A_DRY_RUN",
    )
    assert stub.ListRuns(pb.ListRunsRequest(), metadata=prov).runs[0].status == "published"

    # What a published phase was run on can no longer change silently.
    refused(
        lambda: harness.settings({"jdlk": {"01": 90}, "ordinary": {"01": 110}}, solicitation=no_jdlk_solicitation),
        grpc.StatusCode.FAILED_PRECONDITION,
        "SETTINGS_FROZEN",
    )
    harness.settings(
        {"jdlk": {"01": 100}, "ordinary": {"01": 120}}, solicitation=no_jdlk_solicitation
    )  # later batches may change
    swapped = [Person(first.no, "01", 100, 100), Person(second.no, "01", 100, 130)]
    fix = harness.import_scores(score_csv(swapped), mode=pb.AMEND, note="复核")
    stub.PublishScores(pb.PublishScoresRequest(version=fix.imported.version), metadata=prov)
    refused(lambda: harness.run(), grpc.StatusCode.FAILED_PRECONDITION, "PUBLISHED_RESULTS_CHANGED")
    settings = stub.GetAdmissionSettings(pb.GetAdmissionSettingsRequest(), metadata=prov)
    assert settings.frozen and list(settings.subjects) == ["公共课", "专业课"] and list(settings.categories) == ["01"]


def test_the_batch_order_is_the_provinces(harness: Harness) -> None:
    """Whoever is placed in an earlier batch takes no part in later ones, in the order set."""
    harness.plan([("jdlk", "10108", "01", "01", 1), ("ordinary", "10112", "01", "01", 1)])
    poor = Person(
        number(1), "01", 120, 120, jdlk=True, prefs={"jdlk": [("10108", "01")], "ordinary": [("10112", "01")]}
    )
    other = Person(number(2), "01", 100, 100, prefs={"ordinary": [("10112", "01")]})
    for p in (poor, other):
        harness.confirm(p)
    harness.publish_scores([poor, other])
    lines = {"jdlk": {"01": 100}, "ordinary": {"01": 100}}
    harness.settings(lines, order=("ordinary", "jdlk"), solicitation={"jdlk": False, "ordinary": False})
    first = harness.run()
    assert first.label == "普通批本科"
    assert harness.explain(first.id, poor.no).explanation.startswith("已投档: 普通批本科")
    assert harness.explain(first.id, other.no).explanation.startswith("未投档")
    harness.stub().DiscardRun(pb.DiscardRunRequest(run_id=first.id), metadata=harness.province())
    harness.settings(lines, order=("jdlk", "ordinary"), solicitation={"jdlk": False, "ordinary": False})
    harness.publish_run(harness.run().id)
    second = harness.run()
    assert harness.explain(second.id, poor.no).explanation.startswith("已投档: 建档立卡专项批本科")
    assert harness.explain(second.id, other.no).explanation.startswith("已投档: 普通批本科")
