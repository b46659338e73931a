"""Statistics for staff (管理端统计): score bands and admissions of the caller's candidates.

A province member sees every candidate, a city's staff their city's, a registration point's
staff their point's: the scope is applied to every count here, in the database. Only
published data is counted: the latest score publication and the run of the latest published
phase, as candidates see them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.results.adapters.tables import (
    candidates,
    phases,
    programmes,
    published_scores,
    returns,
    run_results,
    runs,
    solicitations,
    vacancies,
)
from services.results.domain.admission import Stage
from services.results.domain.detail import stage_keys
from services.results.domain.settings import PhaseDef, phase_list
from services.results.domain.stats import CountBand, bands_from_counts
from services.results.service.common import current_publication, load_settings, published_phases
from services.results.service.review import latest_published
from services.results.service.runs import RunsService
from zsb.common.clock import utcnow
from zsb.common.principal import Principal, Role, require_staff
from zsb.common.runtime import ServiceContext


@dataclass
class Count:
    """Candidates of one batch, institution or major: standing dispatched (admitted or in the
    institutions' review), admitted (review over), and 退档 recorded."""

    key: str
    label: str
    dispatched: int = 0
    admitted: int = 0
    returned: int = 0


@dataclass
class SolicitationCount:
    batch_code: str
    batch_name: str
    vacancies: int = 0  # places of the published 征集计划 (province-wide)
    applicants: int = 0  # candidates in scope who submitted 征集志愿
    dispatched: int = 0  # candidates in scope standing dispatched by the 征集志愿 run


@dataclass
class CategoryBands:
    major_category: str
    candidates: int
    highest: int
    bands: list[CountBand]


@dataclass
class StatsView:
    scores_published_at: datetime | None = None
    band_width: int = 0
    scored: int = 0
    bands: list[CategoryBands] = field(default_factory=list)
    phase: PhaseDef | None = None
    final: bool = False
    admission_published_at: datetime | None = None
    participants: int = 0
    by_batch: list[Count] = field(default_factory=list)
    by_institution: list[Count] = field(default_factory=list)
    by_major: list[Count] = field(default_factory=list)
    solicitations: list[SolicitationCount] = field(default_factory=list)


def scoped(query: Select, p: Principal) -> Select:
    """Limit a query joined with candidates to what the staff member may see."""
    if p.role == Role.PROVINCE:
        return query
    if p.role in (Role.CITY, Role.REVIEWER) and not p.point_code:
        return query.where(candidates.c.city_code == (p.city_code or "--"))
    return query.where(candidates.c.point_code == (p.point_code or "--"))


def batch_key(code: str, stage: Stage) -> str:
    return code if stage is Stage.REGULAR else f"{code}:{stage.value}"


class StatsService:
    def __init__(self, ctx: ServiceContext, runs_service: RunsService) -> None:
        self.ctx = ctx
        self.runs = runs_service

    def stats(self) -> StatsView:
        p = require_staff()
        view = StatsView()
        with self.ctx.db.unit_of_work() as session:
            self._scores(session, p, view)
            self._admission(session, p, view)
        return view

    # ---- 分数段 ----

    @staticmethod
    def _scores(session: Session, p: Principal, view: StatsView) -> None:
        publication = current_publication(session)
        if publication is None:
            return
        view.scores_published_at, view.band_width = publication.published_at, publication.band_width
        rows = session.execute(
            scoped(
                select(published_scores.c.major_category, published_scores.c.admission_total, func.count())
                .join(candidates, candidates.c.id == published_scores.c.candidate_id)
                .where(published_scores.c.publication_id == publication.id)
                .group_by(published_scores.c.major_category, published_scores.c.admission_total),
                p,
            )
        ).all()
        per_category: dict[str, dict[int, int]] = defaultdict(dict)
        for category, total, n in rows:
            per_category[category][int(total)] = int(n)
        for category, counts in sorted(per_category.items()):
            view.bands.append(
                CategoryBands(
                    category, sum(counts.values()), max(counts), bands_from_counts(counts, publication.band_width)
                )
            )
        view.scored = sum(b.candidates for b in view.bands)

    # ---- 投档与录取, 退档, 征集志愿 ----

    def _admission(self, session: Session, p: Principal, view: StatsView) -> None:
        settings, *_ = load_settings(session)
        all_phases = phase_list(settings.config)
        latest = latest_published(session, all_phases)
        if latest is None:
            return
        phase, phase_row = latest
        view.phase, view.final = phase, phase.index == len(all_phases) - 1
        view.admission_published_at = phase_row.published_at
        run = session.execute(select(runs).where(runs.c.id == phase_row.run_id)).one()
        detail = self.runs.detail(session, run)
        keys = stage_keys(detail.config)
        published = published_phases(session)
        now = utcnow()

        def review_over(phase_index: int) -> bool:
            # As the candidate's result says: admitted once the review window has passed; without
            # a window, once a later phase is out.
            closes = published[phase_index].review_closes_at
            return closes <= now if closes is not None else phase_index + 1 in published

        in_run = (
            select(func.count())
            .select_from(run_results)
            .join(candidates, candidates.c.id == run_results.c.candidate_id)
        )
        view.participants = int(session.scalar(scoped(in_run.where(run_results.c.run_id == run.id), p)) or 0)

        # Standing dispatched per (stage, plan line), less those returned in the phase that placed them.
        placed = session.execute(
            scoped(
                select(run_results.c.final_stage, run_results.c.plan_idx, func.count())
                .join(candidates, candidates.c.id == run_results.c.candidate_id)
                .where(run_results.c.run_id == run.id, run_results.c.final_stage >= 0)
                .group_by(run_results.c.final_stage, run_results.c.plan_idx),
                p,
            )
        ).all()
        undone = session.execute(
            scoped(
                select(run_results.c.final_stage, run_results.c.plan_idx, returns.c.phase_index, func.count())
                .join(candidates, candidates.c.id == run_results.c.candidate_id)
                .join(returns, returns.c.candidate_id == run_results.c.candidate_id)
                .where(run_results.c.run_id == run.id, run_results.c.final_stage >= 0)
                .group_by(run_results.c.final_stage, run_results.c.plan_idx, returns.c.phase_index),
                p,
            )
        ).all()
        standing: dict[tuple[int, int], int] = {(int(s), int(j)): int(n) for s, j, n in placed}
        for s, j, returned_in, n in undone:
            if detail.stage_phases[int(s)] == int(returned_in):
                standing[(int(s), int(j))] -= int(n)

        batches: dict[str, Count] = {}
        for ph in all_phases:
            if ph.index in published:
                batches[batch_key(ph.batch.code, ph.stage)] = Count(batch_key(ph.batch.code, ph.stage), ph.label)
        institutions: dict[str, Count] = {}
        majors: dict[str, Count] = {}

        def rows_for(institution: str, institution_name: str, major: str, major_name: str) -> list[Count]:
            inst = institutions.setdefault(institution, Count(institution, institution_name or institution))
            key = f"{institution}/{major}"
            maj = majors.setdefault(key, Count(key, f"{institution_name or institution} {major_name or major}"))
            return [inst, maj]

        for (s, j), n in standing.items():
            code, stage = keys[s]
            plan = detail.plans[j]
            admitted = n if review_over(detail.stage_phases[s]) else 0
            for c in [
                batches[batch_key(code, stage)],
                *rows_for(plan.institution, plan.institution_name, plan.major, plan.major_name),
            ]:
                c.dispatched += n
                c.admitted += admitted

        returned = session.execute(
            scoped(
                select(
                    returns.c.batch_code,
                    returns.c.stage,
                    programmes.c.institution_code,
                    programmes.c.institution_name,
                    programmes.c.major_code,
                    programmes.c.major_name,
                    func.count(),
                )
                .join(candidates, candidates.c.id == returns.c.candidate_id)
                .join(programmes, programmes.c.id == returns.c.programme_id)
                .group_by(
                    returns.c.batch_code,
                    returns.c.stage,
                    programmes.c.institution_code,
                    programmes.c.institution_name,
                    programmes.c.major_code,
                    programmes.c.major_name,
                ),
                p,
            )
        ).all()
        for code, stage, institution, institution_name, major, major_name, n in returned:
            key = batch_key(code, Stage(stage))
            targets = rows_for(institution, institution_name, major, major_name)
            if key in batches:
                targets.append(batches[key])
            for c in targets:
                c.returned += int(n)

        view.by_batch = list(batches.values())
        view.by_institution = sorted(institutions.values(), key=lambda c: (-c.dispatched, c.key))
        view.by_major = sorted(majors.values(), key=lambda c: (-c.dispatched, c.key))
        view.solicitations = self._solicitations(session, p, all_phases, batches)

    @staticmethod
    def _solicitations(
        session: Session, p: Principal, all_phases: list[PhaseDef], batches: dict[str, Count]
    ) -> list[SolicitationCount]:
        opened = {
            row.phase_index
            for row in session.execute(select(phases.c.phase_index).where(phases.c.vacancies_at.is_not(None)))
        }
        found = []
        for ph in all_phases:
            if ph.stage is not Stage.REGULAR or ph.index not in opened:
                continue
            code = ph.batch.code
            places = session.scalar(
                select(func.coalesce(func.sum(vacancies.c.vacancies), 0)).where(vacancies.c.batch_code == code)
            )
            applicants = session.scalar(
                scoped(
                    select(func.count())
                    .select_from(solicitations)
                    .join(candidates, candidates.c.id == solicitations.c.candidate_id)
                    .where(solicitations.c.batch_code == code),
                    p,
                )
            )
            standing = batches.get(batch_key(code, Stage.SOLICITATION))
            found.append(
                SolicitationCount(
                    code,
                    ph.batch.name,
                    vacancies=int(places or 0),
                    applicants=int(applicants or 0),
                    dispatched=standing.dispatched if standing else 0,
                )
            )
        return found
