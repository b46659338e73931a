"""Admission runs: 模拟投档 (dry runs staff inspect and discard) and publication.

A run dispatches the next unpublished phase on the current data (loader.py), checks that the
phases already published come out exactly as published, and stores its outcome: one row per
candidate (the standing result), per-plan figures per stage, and the arrays explanations are
rendered from (domain/detail.py). Only publication makes a run visible to candidates and
sends events.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.results.adapters.bulk import add_events, insert_rows
from services.results.adapters.tables import (
    candidates,
    phases,
    programmes,
    returns,
    run_chunks,
    run_plans,
    run_results,
    run_stage_plans,
    runs,
    staff_audit,
)
from services.results.domain.admission import AdmissionConfig, PlanEntry, RunResult, Stage, StageStatus, run_encoded
from services.results.domain.admission.model import slot_label
from services.results.domain.detail import CHUNK_SIZE, StagePlans, decode_chunk, encode_chunks, explain_one, stage_keys
from services.results.domain.settings import (
    AdmissionSettings,
    PhaseDef,
    from_json,
    phase_list,
    stage_phase_indexes,
    to_json,
)
from services.results.service.common import (
    ADMISSION_KEY,
    SERVICE,
    audit,
    candidate_row,
    current_publication,
    current_revision,
    load_settings,
    publish,
    published_phases,
    timestamp,
)
from services.results.service.loader import RunInputs, load_inputs
from zsb.common.clock import utcnow
from zsb.common.errors import FailedPrecondition, NotFound
from zsb.common.principal import Principal, Role, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import results_events_pb2 as ev

DRY, PUBLISHED, DISCARDED = "dry", "published", "discarded"
MAX_MISMATCHES_SHOWN = 5


@dataclass(frozen=True)
class RunDetail:
    """What explanations of one run need beside a candidate's chunk (immutable, cached)."""

    config: AdmissionConfig
    categories: tuple[str, ...]
    plans: tuple[PlanEntry, ...]
    stage_plans: tuple[StagePlans, ...]
    stage_phases: tuple[int, ...]  # the phase index of each stage
    chunk_size: int


@dataclass(frozen=True)
class Outcome:
    """One candidate's standing result in a run, with the explanation."""

    candidate_no: str
    run_id: int
    admission_total: int
    order: int
    dispatched: bool
    batch_code: str
    batch_name: str
    stage: str
    stage_index: int
    slot: str
    plan: PlanEntry | None
    explanation: str


def next_phase(session: Session, config: AdmissionConfig) -> PhaseDef:
    published = published_phases(session)
    for phase in phase_list(config):
        if phase.index not in published:
            return phase
    raise FailedPrecondition("所有投档阶段均已发布", reason="ALL_PUBLISHED")


class RunsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._details: OrderedDict[int, RunDetail] = OrderedDict()
        self._lock = threading.Lock()
        # One run at a time per process: a province-wide run holds several hundred MiB.
        self._running = threading.Lock()
        self.last_timings: dict[str, float] = {}  # of the last run, for diagnostics and the bench

    # ---- dry runs ----

    def start(self) -> int:
        """模拟投档 of the next phase; returns the run id."""
        actor = require_staff(Role.PROVINCE)
        if not self._running.acquire(blocking=False):
            raise FailedPrecondition("另一次模拟投档正在进行，请稍后再试", reason="RUN_IN_PROGRESS")
        try:
            return self.run_next(actor)
        finally:
            self._running.release()

    def run_next(self, actor: Principal) -> int:
        """The whole run through the service: load from the database, dispatch, write the
        outcome (also what ``bench/admission_service.py`` measures; ``last_timings`` has the parts)."""
        started, cpu = time.perf_counter(), time.process_time()
        marks: list[tuple[float, float]] = [(started, cpu)]

        def mark() -> None:
            marks.append((time.perf_counter(), time.process_time()))

        with self.ctx.db.unit_of_work() as session:
            settings, *_ = load_settings(session)
            phase = next_phase(session, settings.config)
            publication = current_publication(session)
            if publication is None:
                raise FailedPrecondition("成绩尚未发布，不能投档", reason="SCORES_NOT_PUBLISHED")
            if phase.stage is Stage.SOLICITATION:
                regular = published_phases(session).get(phase.index - 1)
                if regular is None or regular.vacancies_at is None:
                    raise FailedPrecondition(f"尚未发布{phase.batch.name}征集计划", reason="SOLICITATION_NOT_OPEN")
            revision = current_revision(session)
            inputs = load_inputs(session, settings, phase, publication)
        mark()
        result = run_encoded(inputs.data, inputs.returns)
        mark()
        if phase.index > 0:
            self._check_published_stages(inputs, result)
        mark()
        with self.ctx.db.unit_of_work() as session:
            run_id = self._write(session, actor, inputs, result, revision, settings_json=to_json(settings))
            millis = int((time.perf_counter() - started) * 1000)
            session.execute(update(runs).where(runs.c.id == run_id).values(millis=millis))
            audit(
                session,
                actor,
                "run_started",
                f"run{run_id}",
                f"模拟投档 {phase.label}：{inputs.data.size}名考生，本阶段投档"
                f"{int(result.stages[-1].dispatched.sum())}人，用时{millis / 1000:.1f}秒",
            )
        mark()
        self.last_timings = {}
        for name, (begin, end) in zip(("load", "dispatch", "check", "write"), pairwise(marks), strict=True):
            self.last_timings[name] = end[0] - begin[0]
            self.last_timings[f"{name}_cpu"] = end[1] - begin[1]
        return run_id

    def _check_published_stages(self, inputs: RunInputs, result: RunResult) -> None:
        """The stages already published must come out exactly as published: the data they
        were run on (scores, preferences, settings) must not have changed since."""
        with self.ctx.db.unit_of_work() as session:
            previous = published_phases(session)[inputs.phase.index - 1]
            blobs = session.execute(
                select(run_chunks.c.data).where(run_chunks.c.run_id == previous.run_id).order_by(run_chunks.c.chunk)
            ).scalars()
            chunks = [decode_chunk(b) for b in blobs]
        ids = np.concatenate([c.ids for c in chunks])
        if not np.array_equal(ids, inputs.candidate_ids):
            raise FailedPrecondition(
                "参加投档的考生与已发布的投档结果不一致（成绩或报名信息有变化），不能继续投档",
                reason="PUBLISHED_INPUTS_CHANGED",
            )
        plans = np.concatenate([c.plan for c in chunks], axis=1)
        differ = np.zeros(ids.size, np.bool_)
        for s in range(plans.shape[0]):
            differ |= plans[s] != result.stages[s].plan
        if differ.any():
            shown = "、".join(inputs.data.candidate_ids[i] for i in np.flatnonzero(differ)[:MAX_MISMATCHES_SHOWN])
            raise FailedPrecondition(
                f"已发布阶段的投档结果将发生变化（{int(differ.sum())}名考生，如 {shown}），"
                "说明已发布阶段的数据有变化，不能继续投档",
                reason="PUBLISHED_RESULTS_CHANGED",
            )

    def _write(
        self, session: Session, actor: Principal, inputs: RunInputs, result: RunResult, revision: int, settings_json
    ) -> int:
        data = inputs.data
        n = data.size
        final = result.final_stage.astype(np.int64)
        plan_by_stage = np.stack([s.plan for s in result.stages])
        slot_by_stage = np.stack([s.slot for s in result.stages])
        column = np.arange(n)
        final_plan = np.where(final >= 0, plan_by_stage[np.maximum(final, 0), column], -1)
        final_slot = np.where(final >= 0, slot_by_stage[np.maximum(final, 0), column], -1)
        phase = inputs.phase
        run_id = session.execute(
            runs.insert().values(
                phase_index=phase.index,
                batch_code=phase.batch.code,
                stage=phase.stage.value,
                status=DRY,
                revision=revision,
                config_json=json.dumps(
                    {"settings": settings_json, "run": to_json_config(inputs.config)}, ensure_ascii=False
                ),
                categories_json=json.dumps(list(data.categories), ensure_ascii=False),
                score_publication=inputs.publication,
                plan_version=inputs.plan_version,
                candidates=n,
                dispatched=int(result.stages[-1].dispatched.sum()),
                placed=int((final >= 0).sum()),
                chunk_size=CHUNK_SIZE,
                millis=0,
                actor=actor.subject[:40],
                started_at=utcnow(),
            )
        ).inserted_primary_key[0]
        insert_rows(
            session,
            run_plans,
            ("run_id", "idx", "batch_code", "programme_id", "major_category", "places"),
            ((run_id, j, p.batch, inputs.programme_ids[j], p.category, p.places) for j, p in enumerate(data.plans)),
        )
        stage_rows = []
        for s, outcome in enumerate(result.stages):
            in_batch = [j for j, p in enumerate(data.plans) if p.batch == outcome.batch]
            figures = [
                outcome.quota.tolist(),
                outcome.dispatched.tolist(),
                outcome.returned.tolist(),
                outcome.lowest_dispatched.tolist(),
                outcome.lowest_admitted.tolist(),
            ]
            stage_rows += [(run_id, s, j, *(f[j] for f in figures)) for j in in_batch]
        insert_rows(
            session,
            run_stage_plans,
            ("run_id", "stage_index", "idx", "quota", "dispatched", "returned", "lowest_dispatched", "lowest_admitted"),
            stage_rows,
        )
        insert_rows(
            session,
            run_results,
            (
                "run_id",
                "candidate_id",
                "position",
                "dispatch_order",
                "admission_total",
                "final_stage",
                "plan_idx",
                "slot",
            ),
            zip(
                [run_id] * n,
                inputs.candidate_ids.tolist(),
                range(n),
                (result.rank + 1).tolist(),
                data.total.tolist(),
                final.tolist(),
                final_plan.tolist(),
                final_slot.tolist(),
                strict=True,
            ),
        )
        insert_rows(
            session,
            run_chunks,
            ("run_id", "chunk", "data"),
            ((run_id, k, blob) for k, blob in enumerate(encode_chunks(inputs.candidate_ids, data, result))),
        )
        return int(run_id)

    # ---- reading runs ----

    def list_runs(self) -> tuple[list, int, dict[int, str]]:
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            rows = session.execute(select(runs).order_by(runs.c.id.desc()).limit(50)).all()
            settings, *_ = load_settings(session)
            labels = {p.index: p.label for p in phase_list(settings.config)}
            return rows, current_revision(session), labels

    def run_row(self, session: Session, run_id: int):
        row = session.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None or row.status == DISCARDED:
            raise NotFound("没有该投档记录（或已废弃）", reason="NO_SUCH_RUN", field="run_id")
        return row

    def detail(self, session: Session, run) -> RunDetail:
        """The run's settings, plans and per-stage figures (immutable, so cached)."""
        with self._lock:
            found = self._details.get(run.id)
            if found is not None:
                self._details.move_to_end(run.id)
                return found
        config = config_from_run(run)
        plan_rows = session.execute(
            select(run_plans, programmes)
            .join(programmes, programmes.c.id == run_plans.c.programme_id)
            .where(run_plans.c.run_id == run.id)
            .order_by(run_plans.c.idx)
        ).all()
        plans = tuple(
            PlanEntry(
                r.batch_code,
                r.institution_code,
                r.major_code,
                r.major_category,
                r.places,
                r.institution_name,
                r.major_name,
            )
            for r in plan_rows
        )
        p = len(plans)
        keys = stage_keys(config)
        arrays = [
            {
                name: np.full(p, 0 if name in ("quota", "dispatched", "returned") else -1, np.int64)
                for name in ("quota", "dispatched", "returned", "lowest_dispatched", "lowest_admitted")
            }
            for _ in keys
        ]
        for r in session.execute(select(run_stage_plans).where(run_stage_plans.c.run_id == run.id)).all():
            figures = arrays[r.stage_index]
            for name in figures:
                figures[name][r.idx] = getattr(r, name)
        detail = RunDetail(
            config=config,
            categories=tuple(json.loads(run.categories_json)),
            plans=plans,
            stage_plans=tuple(StagePlans(**a) for a in arrays),
            stage_phases=tuple(stage_phase_indexes(settings_from_run(run).config, config)),
            chunk_size=run.chunk_size,
        )
        with self._lock:
            self._details[run.id] = detail
            while len(self._details) > 8:
                self._details.popitem(last=False)
        return detail

    def get_run(self, run_id: int, query: str, category: str, limit: int):
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            run = self.run_row(session, run_id)
            detail = self.detail(session, run)
            revision = current_revision(session)
        labels = [
            f"{b.name}{'征集志愿' if stage is Stage.SOLICITATION else ''}"
            for code, stage in stage_keys(detail.config)
            for b in detail.config.batches
            if b.code == code
        ]
        text = query.strip()
        rows = []
        for s, (code, stage) in enumerate(stage_keys(detail.config)):
            figures = detail.stage_plans[s]
            for j, plan in enumerate(detail.plans):
                if plan.batch != code or (category and plan.category != category):
                    continue
                if text and not any(
                    text in x for x in (plan.institution, plan.major, plan.institution_name, plan.major_name)
                ):
                    continue
                rows.append(
                    (
                        s,
                        stage,
                        plan,
                        {
                            k: int(getattr(figures, k)[j])
                            for k in ("quota", "dispatched", "returned", "lowest_dispatched", "lowest_admitted")
                        },
                    )
                )
        return run, revision, labels, rows[:limit], len(rows) > limit

    def outcome(self, session: Session, run, candidate_no: str) -> Outcome | None:
        """The candidate's standing result in ``run`` with the engine's explanation; None when
        the candidate was not in the run."""
        cand = session.execute(select(candidates.c.id).where(candidates.c.candidate_no == candidate_no)).scalar()
        if cand is None:
            return None
        row = session.execute(
            select(run_results).where(run_results.c.run_id == run.id, run_results.c.candidate_id == cand)
        ).first()
        if row is None:
            return None
        detail = self.detail(session, run)
        chunk_no, offset = divmod(row.position, detail.chunk_size)
        blob = session.execute(
            select(run_chunks.c.data).where(run_chunks.c.run_id == run.id, run_chunks.c.chunk == chunk_no)
        ).scalar_one()
        keys = stage_keys(detail.config)
        chunk = decode_chunk(blob)
        phase_reasons = dict(
            session.execute(select(returns.c.phase_index, returns.c.reason).where(returns.c.candidate_id == cand)).all()
        )
        reasons = {
            s: phase_reasons[phase]
            for s, phase in enumerate(detail.stage_phases)
            if phase in phase_reasons and chunk.status[s, offset] == StageStatus.RETURNED
        }
        text = explain_one(
            detail.config, detail.categories, detail.plans, detail.stage_plans, chunk, offset, candidate_no, reasons
        )
        final = int(row.final_stage)
        plan = detail.plans[row.plan_idx] if final >= 0 else None
        batch = detail.config.batch(keys[final][0]) if final >= 0 else None
        return Outcome(
            candidate_no=candidate_no,
            run_id=int(run.id),
            admission_total=int(row.admission_total),
            order=int(row.dispatch_order),
            dispatched=final >= 0,
            batch_code=batch.code if batch else "",
            batch_name=batch.name if batch else "",
            stage=keys[final][1].value if final >= 0 else "",
            stage_index=final,
            slot=slot_label(keys[final][1], int(row.slot)) if final >= 0 else "",
            plan=plan,
            explanation=text,
        )

    def explain(self, run_id: int, candidate_no: str) -> Outcome:
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            run = self.run_row(session, run_id)
            candidate_row(session, candidate_no)
            found = self.outcome(session, run, candidate_no)
        if found is None:
            raise NotFound("该考生未参加此次投档", reason="NOT_IN_RUN", field="candidate_no")
        return found

    # ---- discard and publish ----

    def discard(self, run_id: int) -> None:
        actor = require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            run = session.execute(select(runs).where(runs.c.id == run_id).with_for_update()).first()
            if run is None:
                raise NotFound("没有该投档记录", reason="NO_SUCH_RUN", field="run_id")
            if run.status != DRY:
                raise FailedPrecondition("只能废弃未发布的模拟投档", reason="NOT_A_DRY_RUN")
            _drop_run(session, run_id)
            audit(session, actor, "run_discarded", f"run{run_id}", f"废弃模拟投档（第{run.phase_index + 1}阶段）")

    def publish_run(self, run_id: int) -> None:
        actor = require_staff(Role.PROVINCE)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            run = session.execute(select(runs).where(runs.c.id == run_id).with_for_update()).first()
            if run is None or run.status == DISCARDED:
                raise NotFound("没有该投档记录（或已废弃）", reason="NO_SUCH_RUN", field="run_id")
            if run.status != DRY:
                raise FailedPrecondition("该投档结果已发布", reason="ALREADY_PUBLISHED")
            if run.revision != current_revision(session):
                raise FailedPrecondition(
                    "模拟投档之后数据已有变化（成绩、志愿、退档、征集志愿或设置），请重新模拟投档后再发布",
                    reason="RUN_STALE",
                )
            settings, *_ = load_settings(session)
            phase = next_phase(session, settings.config)
            if phase.index != run.phase_index or phase.batch.code != run.batch_code:
                raise FailedPrecondition("该模拟投档不是下一个待发布阶段的结果", reason="WRONG_PHASE")
            self._check_previous_closed(session, phase, now)
            session.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(status=PUBLISHED, published_at=now, published_by=actor.subject[:40])
            )
            session.execute(
                phases.insert().values(
                    phase_index=phase.index,
                    batch_code=phase.batch.code,
                    stage=phase.stage.value,
                    run_id=run_id,
                    published_at=now,
                    published_by=actor.subject[:40],
                )
            )
            for other in (
                session.execute(
                    select(runs.c.id).where(
                        runs.c.status == DRY, runs.c.phase_index == phase.index, runs.c.id != run_id
                    )
                )
                .scalars()
                .all()
            ):
                _drop_run(session, other)
            final = phase.index == len(phase_list(settings.config)) - 1
            count = self._publish_events(session, run, phase, final, actor, now)
            audit(
                session,
                actor,
                "run_published",
                f"run{run_id}",
                f"发布投档结果 {phase.label}：本阶段投档{run.dispatched}人，发送考生结果{count}条",
            )

    @staticmethod
    def _check_previous_closed(session: Session, phase: PhaseDef, now: datetime) -> None:
        if phase.index == 0:
            return
        previous = published_phases(session)[phase.index - 1]
        if previous.review_closes_at is not None and previous.review_closes_at > now:
            raise FailedPrecondition("上一阶段的院校审核（退档）尚未结束，不能发布", reason="REVIEW_NOT_CLOSED")
        if phase.stage is Stage.SOLICITATION and (
            previous.solicit_closes_at is None or previous.solicit_closes_at > now
        ):
            raise FailedPrecondition("征集志愿填报尚未结束，不能发布", reason="SOLICITATION_NOT_CLOSED")

    def _publish_events(self, session: Session, run, phase: PhaseDef, final: bool, actor: Principal, at_dt) -> int:
        detail = self.detail(session, run)
        keys = stage_keys(detail.config)
        last = len(keys) - 1
        at = timestamp(at_dt)
        figures = detail.stage_plans[last]
        publish(
            session,
            ADMISSION_KEY,
            ev.AdmissionPhasePublished(
                run_id=run.id,
                batch_code=phase.batch.code,
                batch_name=phase.batch.name,
                stage=phase.stage.value,
                final=final,
                candidates=run.candidates,
                dispatched=run.dispatched,
                plans=[
                    ev.AdmissionPlanResult(
                        batch_code=p.batch,
                        stage=phase.stage.value,
                        institution_code=p.institution,
                        institution_name=p.institution_name,
                        major_code=p.major,
                        major_name=p.major_name,
                        major_category=p.category,
                        places=p.places,
                        quota=int(figures.quota[j]),
                        dispatched=int(figures.dispatched[j]),
                        lowest_dispatched=int(figures.lowest_dispatched[j]),
                    )
                    for j, p in enumerate(detail.plans)
                    if p.batch == phase.batch.code
                ],
                actor=actor.subject,
                at=at,
            ),
        )
        wanted = [last, -1] if final else [last]
        rows = session.execute(
            select(
                candidates.c.candidate_no,
                run_results.c.final_stage,
                run_results.c.plan_idx,
                run_results.c.slot,
                run_results.c.admission_total,
            )
            .join(candidates, candidates.c.id == run_results.c.candidate_id)
            .where(run_results.c.run_id == run.id, run_results.c.final_stage.in_(wanted))
        ).all()

        def events():
            for r in rows:
                if r.final_stage >= 0:
                    plan = detail.plans[r.plan_idx]
                    stage = keys[r.final_stage][1]
                    batch = detail.config.batch(keys[r.final_stage][0])
                    yield (
                        r.candidate_no,
                        ev.AdmissionResultPublished(
                            candidate_no=r.candidate_no,
                            run_id=run.id,
                            dispatched=True,
                            batch_code=batch.code,
                            batch_name=batch.name,
                            stage=stage.value,
                            slot=slot_label(stage, r.slot),
                            institution_code=plan.institution,
                            institution_name=plan.institution_name,
                            major_code=plan.major,
                            major_name=plan.major_name,
                            admission_total=r.admission_total,
                            final=final,
                            at=at,
                        ),
                    )
                else:
                    yield (
                        r.candidate_no,
                        ev.AdmissionResultPublished(
                            candidate_no=r.candidate_no,
                            run_id=run.id,
                            dispatched=False,
                            admission_total=r.admission_total,
                            final=True,
                            at=at,
                        ),
                    )

        return add_events(session, SERVICE, events())


def to_json_config(config: AdmissionConfig) -> dict:
    return to_json(AdmissionSettings(config))


def config_from_run(run) -> AdmissionConfig:
    return from_json(json.loads(run.config_json)["run"]).config


def settings_from_run(run) -> AdmissionSettings:
    return from_json(json.loads(run.config_json)["settings"])


def _drop_run(session: Session, run_id: int) -> None:
    """A discarded run keeps its row (the audit names it) but not its outcome."""
    for table in (run_results, run_chunks, run_stage_plans, run_plans):
        session.execute(delete(table).where(table.c.run_id == run_id))
    session.execute(update(runs).where(runs.c.id == run_id).values(status=DISCARDED))


__all__ = ["DISCARDED", "DRY", "PUBLISHED", "Outcome", "RunsService", "next_phase"]


def list_phases(ctx: ServiceContext) -> list[tuple[PhaseDef, object | None, bool]]:
    """Every phase with its published row (or None) and whether it is the next one to run."""
    require_staff(Role.PROVINCE)
    with ctx.db.unit_of_work() as session:
        settings, *_ = load_settings(session)
        published = published_phases(session)
    found = [(p, published.get(p.index)) for p in phase_list(settings.config)]
    next_index = next((p.index for p, row in found if row is None), -1)
    return [(p, row, p.index == next_index) for p, row in found]


def list_staff_actions(ctx: ServiceContext, limit: int) -> list:
    require_staff(Role.PROVINCE)
    with ctx.db.unit_of_work() as session:
        return session.execute(
            select(staff_audit).order_by(staff_audit.c.id.desc()).limit(min(max(limit, 1), 500))
        ).all()
