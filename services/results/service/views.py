"""What a candidate (or staff in scope) reads: published scores, bands and admission result.

Nothing unpublished is ever read here: scores come from the latest score publication, the
admission result from the run of the latest published phase (never a dry run). Candidates read
them once the calendar's 成绩查询 phase has opened (and ever after: the admission needs them);
before, they get the phase's opening instead. Staff lookups and the publication are not gated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.results.adapters.tables import (
    SUBJECT_COLUMNS,
    calendar_phases,
    published_scores,
    returns,
    runs,
    score_bands,
)
from services.results.domain.admission import Stage
from services.results.domain.settings import phase_list
from services.results.service.common import (
    candidate_row,
    check_candidate_no,
    current_publication,
    load_settings,
    published_phases,
)
from services.results.service.review import ReviewService, SolicitationStatus, latest_published
from services.results.service.runs import Outcome, RunsService
from zsb.common.calendar import Phase, load_calendar
from zsb.common.clock import utcnow
from zsb.common.errors import NotFound
from zsb.common.principal import require_candidate, require_scope, require_staff
from zsb.common.runtime import ServiceContext


@dataclass
class ScoreView:
    published_at: datetime
    total: int
    subjects: list[tuple[str, int | None]]
    bonus: int
    admission_total: int
    rank: int
    category_candidates: int
    major_category: str


@dataclass
class AdmissionView:
    phase_label: str
    final: bool
    published_at: datetime
    outcome: Outcome | None  # None: not in the run
    returned: bool = False
    return_reason: str = ""
    admitted: bool = False


@dataclass
class ResultsView:
    candidate_no: str
    name: str
    scores: ScoreView | None = None
    admission: AdmissionView | None = None
    solicitations: list[SolicitationStatus] = field(default_factory=list)
    note: str = ""  # why nothing is shown yet (成绩查询 has not opened)


@dataclass
class BandsView:
    published_at: datetime
    major_category: str
    band_width: int
    bands: list[tuple[int, int, int, int]]  # low, high, count, cumulative (highest first)
    my_total: int | None


class ViewsService:
    def __init__(self, ctx: ServiceContext, runs_service: RunsService, review: ReviewService) -> None:
        self.ctx = ctx
        self.runs = runs_service
        self.review = review

    def my_results(self) -> ResultsView:
        p = require_candidate()
        return self._results(p.subject, staff=False)

    def lookup(self, candidate_no: str) -> ResultsView:
        require_staff()
        number = check_candidate_no(candidate_no)
        return self._results(number, staff=True)

    def _results(self, number: str, staff: bool) -> ResultsView:
        with self.ctx.db.unit_of_work() as session:
            try:
                cand = candidate_row(session, number)
            except NotFound:
                if staff:
                    raise
                return ResultsView(number, "", note=scores_not_yet(session))
            if staff:
                require_scope(cand.city_code, cand.point_code)
            elif note := scores_not_yet(session):
                # Before 成绩查询 opens a candidate sees none of it: the admission result and its
                # explanation carry the 投档总分 too.
                return ResultsView(number, cand.name, note=note)
            view = ResultsView(number, cand.name)
            view.scores = self._scores(session, cand.id)
            view.admission = self._admission(session, cand.id, number)
            view.solicitations = self._solicitations(session, cand.id)
        return view

    @staticmethod
    def _scores(session: Session, candidate_id: int) -> ScoreView | None:
        publication = current_publication(session)
        if publication is None:
            return None
        row = session.execute(
            select(published_scores).where(
                published_scores.c.publication_id == publication.id, published_scores.c.candidate_id == candidate_id
            )
        ).first()
        if row is None:
            return None
        subjects = json.loads(publication.subjects_json)
        count = session.execute(
            select(func.max(score_bands.c.cumulative)).where(
                score_bands.c.publication_id == publication.id, score_bands.c.major_category == row.major_category
            )
        ).scalar()
        return ScoreView(
            published_at=publication.published_at,
            total=row.total,
            subjects=[(name, getattr(row, SUBJECT_COLUMNS[k])) for k, name in enumerate(subjects)],
            bonus=row.bonus,
            admission_total=row.admission_total,
            rank=row.rank,
            category_candidates=int(count or 0),
            major_category=row.major_category,
        )

    def _admission(self, session: Session, candidate_id: int, number: str) -> AdmissionView | None:
        settings, *_ = load_settings(session)
        all_phases = phase_list(settings.config)
        latest = latest_published(session, all_phases)
        if latest is None:
            return None
        phase, row = latest
        run = session.execute(select(runs).where(runs.c.id == row.run_id)).one()
        view = AdmissionView(
            phase_label=phase.label,
            final=phase.index == len(all_phases) - 1,
            published_at=row.published_at,
            outcome=self.runs.outcome(session, run, number),
        )
        outcome = view.outcome
        if outcome is None or not outcome.dispatched:
            return view
        detail = self.runs.detail(session, run)
        dispatch_phase = detail.stage_phases[outcome.stage_index]
        returned = session.execute(
            select(returns.c.reason).where(
                returns.c.candidate_id == candidate_id, returns.c.phase_index == dispatch_phase
            )
        ).scalar()
        if returned is not None:
            view.returned, view.return_reason = True, returned
            return view
        published = published_phases(session)
        closes = published[dispatch_phase].review_closes_at
        # Admitted once the review window has passed; without a window, once a later phase is out.
        view.admitted = closes <= utcnow() if closes is not None else dispatch_phase + 1 in published
        return view

    def _solicitations(self, session: Session, candidate_id: int) -> list[SolicitationStatus]:
        settings, *_ = load_settings(session)
        published = published_phases(session)
        found = []
        for phase in phase_list(settings.config):
            row = published.get(phase.index)
            if (
                phase.stage is Stage.REGULAR
                and row is not None
                and row.vacancies_at is not None
                and phase.index + 1 not in published
            ):
                found.append(self.review.status(session, candidate_id, phase.batch.code))
        return found

    def bands(self) -> tuple[BandsView | None, str]:
        """The bands of the candidate's category, or (None, why not yet) before 成绩查询 opens."""
        p = require_candidate()
        with self.ctx.db.unit_of_work() as session:
            if note := scores_not_yet(session):
                return None, note
            publication = current_publication(session)
            if publication is None:
                return None, ""
            try:
                cand = candidate_row(session, p.subject)
            except NotFound:
                return None, ""
            mine = session.execute(
                select(published_scores.c.major_category, published_scores.c.admission_total).where(
                    published_scores.c.publication_id == publication.id, published_scores.c.candidate_id == cand.id
                )
            ).first()
            category = mine.major_category if mine else cand.major_category
            rows = session.execute(
                select(score_bands)
                .where(score_bands.c.publication_id == publication.id, score_bands.c.major_category == category)
                .order_by(score_bands.c.low.desc())
            ).all()
        view = BandsView(
            published_at=publication.published_at,
            major_category=category,
            band_width=publication.band_width,
            bands=[(r.low, r.high, r.count, r.cumulative) for r in rows],
            my_total=mine.admission_total if mine else None,
        )
        return view, ""


def scores_not_yet(session: Session) -> str:
    """'' once the calendar's 成绩查询 phase has opened (a phase never set has), else when it opens."""
    calendar = load_calendar(session, calendar_phases)
    now = utcnow()
    if calendar.has_opened(Phase.SCORE_PUBLICATION, now):
        return ""
    return calendar.describe(Phase.SCORE_PUBLICATION, now)
