"""After a phase is published: the review window and 退档, then 征集志愿.

退档 is recorded by province staff on behalf of the institution (institutions have no accounts
on this platform), during the review window of the latest published phase, with the reason.
A returned candidate is not dispatched again within that batch's regular run; the next run
applies the return and frees the place for 征集志愿.

征集志愿: after the batch's review window, the province publishes the vacancies (places minus
those admitted after 退档) and a filling window; unplaced candidates of the batch at or above
their control line pick up to eight vacancies of their category on the results pages, and the
solicitation phase's run dispatches them by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from services.results.adapters.tables import (
    SLOTS,
    candidates,
    phases,
    programmes,
    published_scores,
    returns,
    run_plans,
    run_results,
    run_stage_plans,
    runs,
    solicitations,
    vacancies,
)
from services.results.domain.admission import LETTERS, Stage
from services.results.domain.detail import stage_keys
from services.results.domain.settings import PhaseDef, phase_list
from services.results.service.common import (
    ADMISSION_KEY,
    audit,
    bump_revision,
    candidate_row,
    check_candidate_no,
    from_unix,
    load_settings,
    publish,
    published_phases,
    timestamp,
)
from services.results.service.runs import config_from_run
from zsb.common.clock import beijing_text, utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument, NotFound
from zsb.common.principal import Role, require_candidate, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import results_events_pb2 as ev

MAX_REASON = 200


@dataclass(frozen=True)
class VacancyRow:
    programme_id: int
    institution_code: str
    institution_name: str
    major_code: str
    major_name: str
    major_category: str
    places: int
    admitted: int
    vacancies: int


@dataclass(frozen=True)
class SolicitationStatus:
    batch_code: str
    batch_name: str
    opens_at: datetime | None
    closes_at: datetime | None
    open: bool
    eligible: bool
    reason: str
    version: int
    barred: tuple[str, str] | None  # (institution, major) that returned the candidate
    category: str

    def closed_reason(self, now: datetime) -> str:
        """Why 征集志愿 cannot be filled now, with the window's times ('' while it is open)."""
        if self.open:
            return ""
        if self.opens_at is not None and now < self.opens_at:
            return f"{self.batch_name}征集志愿填报将于{beijing_text(self.opens_at)}开始"
        if self.closes_at is not None and now >= self.closes_at:
            return f"{self.batch_name}征集志愿填报已于{beijing_text(self.closes_at)}结束，不能再提交或修改"
        return f"{self.batch_name}征集志愿已投档，不能再提交或修改"


def _window(opens: int, closes: int) -> tuple[datetime, datetime]:
    start, end = from_unix(opens), from_unix(closes)
    if start is None or end is None or end <= start:
        raise InvalidArgument("请填写开始和结束时间，且结束时间须晚于开始时间", reason="BAD_WINDOW", field="closes_at")
    return start, end


def latest_published(session: Session, all_phases: list[PhaseDef]) -> tuple[PhaseDef, object] | None:
    published = published_phases(session)
    done = [p for p in all_phases if p.index in published]
    return (done[-1], published[done[-1].index]) if done else None


class ReviewService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # ---- review windows and 退档 ----

    def set_review_window(self, phase_index: int, opens: int, closes: int) -> None:
        actor = require_staff(Role.PROVINCE)
        start, end = _window(opens, closes)
        with self.ctx.db.unit_of_work() as session:
            published = published_phases(session)
            if phase_index not in published:
                raise FailedPrecondition("该阶段尚未发布，不能设置审核时间", reason="PHASE_NOT_PUBLISHED")
            if phase_index + 1 in published:
                raise FailedPrecondition("下一阶段已发布，不能再修改本阶段的审核时间", reason="PHASE_CLOSED")
            session.execute(
                update(phases)
                .where(phases.c.phase_index == phase_index)
                .values(review_opens_at=start, review_closes_at=end)
            )
            audit(
                session,
                actor,
                "review_window_set",
                f"phase{phase_index}",
                f"院校审核（退档）时间 {beijing_text(start)} 至 {beijing_text(end)}",
            )

    def return_candidate(self, candidate_no: str, reason: str) -> None:
        actor = require_staff(Role.PROVINCE)
        number = check_candidate_no(candidate_no)
        why = (reason or "").strip()
        if not why or len(why) > MAX_REASON:
            raise InvalidArgument(f"请填写退档原因（不超过{MAX_REASON}字）", reason="BAD_REASON", field="reason")
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            settings, *_ = load_settings(session)
            latest = latest_published(session, phase_list(settings.config))
            if latest is None:
                raise FailedPrecondition("尚未发布投档结果", reason="NOTHING_PUBLISHED")
            phase, row = latest
            if row.review_opens_at is None or not row.review_opens_at <= now < row.review_closes_at:
                raise FailedPrecondition(f"当前不在{phase.label}的院校审核（退档）时间内", reason="REVIEW_CLOSED")
            cand = candidate_row(session, number)
            run = session.execute(select(runs).where(runs.c.id == row.run_id)).first()
            last_stage = len(stage_keys(config_from_run(run))) - 1
            result = session.execute(
                select(run_results).where(run_results.c.run_id == run.id, run_results.c.candidate_id == cand.id)
            ).first()
            if result is None or result.final_stage != last_stage:
                raise FailedPrecondition(f"该考生未在{phase.label}投档，不能退档", reason="NOT_DISPATCHED_HERE")
            if session.execute(
                select(returns.c.id).where(returns.c.candidate_id == cand.id, returns.c.phase_index == phase.index)
            ).first():
                raise FailedPrecondition("该考生已被退档", reason="ALREADY_RETURNED")
            plan = session.execute(
                select(
                    run_plans.c.programme_id,
                    run_plans.c.major_category,
                    programmes.c.institution_code,
                    programmes.c.major_code,
                )
                .join(programmes, programmes.c.id == run_plans.c.programme_id)
                .where(run_plans.c.run_id == run.id, run_plans.c.idx == result.plan_idx)
            ).one()
            session.execute(
                insert(returns).values(
                    candidate_id=cand.id,
                    phase_index=phase.index,
                    batch_code=phase.batch.code,
                    stage=phase.stage.value,
                    programme_id=plan.programme_id,
                    major_category=plan.major_category,
                    reason=why,
                    actor=actor.subject[:40],
                    at=now,
                )
            )
            publish(
                session,
                number,
                ev.CandidateReturned(
                    candidate_no=number,
                    batch_code=phase.batch.code,
                    stage=phase.stage.value,
                    institution_code=plan.institution_code,
                    major_code=plan.major_code,
                    reason=why,
                    actor=actor.subject,
                    at=timestamp(now),
                ),
            )
            audit(
                session,
                actor,
                "candidate_returned",
                number,
                f"{phase.label} {plan.institution_code}/{plan.major_code} 退档：{why}",
            )
            bump_revision(session)

    def list_returns(self) -> list:
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            return session.execute(
                select(returns, candidates.c.candidate_no, programmes)
                .join(candidates, candidates.c.id == returns.c.candidate_id)
                .join(programmes, programmes.c.id == returns.c.programme_id)
                .order_by(returns.c.id.desc())
                .limit(1000)
            ).all()

    # ---- 征集志愿: vacancies and window ----

    def open_solicitation(self, batch_code: str, opens: int, closes: int) -> None:
        actor = require_staff(Role.PROVINCE)
        start, end = _window(opens, closes)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            settings, *_ = load_settings(session)
            all_phases = phase_list(settings.config)
            latest = latest_published(session, all_phases)
            if latest is None or latest[0].batch.code != batch_code or latest[0].stage is not Stage.REGULAR:
                raise FailedPrecondition(
                    "只能在该批次投档结果发布后、征集志愿投档前发布征集计划", reason="NOT_AFTER_REGULAR"
                )
            phase, row = latest
            if not phase.batch.solicitation:
                raise FailedPrecondition(f"{phase.batch.name}未安排征集志愿", reason="NO_SOLICITATION")
            if row.review_closes_at is not None and row.review_closes_at > now:
                raise FailedPrecondition("院校审核（退档）尚未结束，不能发布征集计划", reason="REVIEW_NOT_CLOSED")
            lines = self._compute_vacancies(session, row.run_id, phase)
            session.execute(delete(vacancies).where(vacancies.c.batch_code == batch_code))
            if lines:
                session.execute(
                    insert(vacancies),
                    [
                        {
                            "batch_code": batch_code,
                            "programme_id": v.programme_id,
                            "major_category": v.major_category,
                            "places": v.places,
                            "admitted": v.admitted,
                            "vacancies": v.vacancies,
                        }
                        for v in lines
                    ],
                )
            session.execute(
                update(phases)
                .where(phases.c.phase_index == phase.index)
                .values(solicit_opens_at=start, solicit_closes_at=end, vacancies_at=now)
            )
            publish(
                session,
                ADMISSION_KEY,
                ev.SolicitationOpened(
                    batch_code=batch_code,
                    batch_name=phase.batch.name,
                    opens_at=timestamp(start),
                    closes_at=timestamp(end),
                    vacancies=[
                        ev.VacancyLine(
                            institution_code=v.institution_code,
                            institution_name=v.institution_name,
                            major_code=v.major_code,
                            major_name=v.major_name,
                            major_category=v.major_category,
                            vacancies=v.vacancies,
                        )
                        for v in lines
                        if v.vacancies > 0
                    ],
                    actor=actor.subject,
                    at=timestamp(now),
                ),
            )
            audit(
                session,
                actor,
                "solicitation_opened",
                batch_code,
                f"发布征集计划：缺额{sum(v.vacancies for v in lines)}个，填报时间 {beijing_text(start)} 至 "
                f"{beijing_text(end)}",
            )
            bump_revision(session)

    @staticmethod
    def _compute_vacancies(session: Session, run_id: int, phase: PhaseDef) -> list[VacancyRow]:
        """Places minus those admitted (dispatched in the regular run and not returned)."""
        run = session.execute(select(runs).where(runs.c.id == run_id)).one()
        stage_index = len(stage_keys(config_from_run(run))) - 1
        returned = {
            (r.programme_id, r.major_category): r.count
            for r in session.execute(
                select(returns.c.programme_id, returns.c.major_category, func.count().label("count"))
                .where(returns.c.phase_index == phase.index)
                .group_by(returns.c.programme_id, returns.c.major_category)
            ).all()
        }
        rows = session.execute(
            select(run_plans, run_stage_plans.c.dispatched, programmes)
            .join(programmes, programmes.c.id == run_plans.c.programme_id)
            .join(
                run_stage_plans,
                (run_stage_plans.c.run_id == run_plans.c.run_id)
                & (run_stage_plans.c.idx == run_plans.c.idx)
                & (run_stage_plans.c.stage_index == stage_index),
            )
            .where(run_plans.c.run_id == run_id, run_plans.c.batch_code == phase.batch.code)
            .order_by(programmes.c.institution_code, programmes.c.major_code, run_plans.c.major_category)
        ).all()
        out = []
        for r in rows:
            admitted = r.dispatched - returned.get((r.programme_id, r.major_category), 0)
            out.append(
                VacancyRow(
                    r.programme_id,
                    r.institution_code,
                    r.institution_name,
                    r.major_code,
                    r.major_name,
                    r.major_category,
                    r.places,
                    admitted,
                    max(0, r.places - admitted),
                )
            )
        return out

    def list_vacancies(self, batch_code: str) -> list[VacancyRow]:
        require_staff()
        with self.ctx.db.unit_of_work() as session:
            return _vacancy_rows(session, batch_code, None)

    # ---- 征集志愿: the candidate's form ----

    def status(self, session: Session, candidate_id: int, batch_code: str) -> SolicitationStatus:
        """Whether the candidate may fill 征集志愿 of the batch now, and why not."""
        settings, *_ = load_settings(session)
        all_phases = phase_list(settings.config)
        regular = next((p for p in all_phases if p.batch.code == batch_code and p.stage is Stage.REGULAR), None)
        published = published_phases(session)
        row = published.get(regular.index) if regular else None
        if regular is None or row is None or row.vacancies_at is None:
            raise NotFound("该批次尚未发布征集计划", reason="NO_SOLICITATION", field="batch_code")
        now = utcnow()
        window_open = row.solicit_opens_at <= now < row.solicit_closes_at and regular.index + 1 not in published
        version = (
            session.execute(
                select(solicitations.c.version).where(
                    solicitations.c.candidate_id == candidate_id, solicitations.c.batch_code == batch_code
                )
            ).scalar()
            or 0
        )

        def status(eligible: bool, reason: str, barred=None, category: str = "") -> SolicitationStatus:
            return SolicitationStatus(
                batch_code,
                regular.batch.name,
                row.solicit_opens_at,
                row.solicit_closes_at,
                window_open,
                eligible,
                reason,
                version,
                barred,
                category,
            )

        run = session.execute(select(runs).where(runs.c.id == row.run_id)).one()
        result = session.execute(
            select(run_results).where(run_results.c.run_id == run.id, run_results.c.candidate_id == candidate_id)
        ).first()
        score = session.execute(
            select(
                published_scores.c.major_category, published_scores.c.jdlk, published_scores.c.admission_total
            ).where(
                published_scores.c.publication_id == run.score_publication,
                published_scores.c.candidate_id == candidate_id,
            )
        ).first()
        if result is None or score is None:
            return status(False, "您未参加本批次投档")
        barred = None
        if result.final_stage >= 0:
            returned = session.execute(
                select(programmes.c.institution_code, programmes.c.major_code)
                .join(returns, returns.c.programme_id == programmes.c.id)
                .where(returns.c.candidate_id == candidate_id, returns.c.phase_index == regular.index)
            ).first()
            last_stage = len(stage_keys(config_from_run(run))) - 1
            if returned is None or result.final_stage != last_stage:
                return status(False, "您已投档，不能填报征集志愿", category=score.major_category)
            barred = (returned.institution_code, returned.major_code)
        batch = config_from_run(run).batch(batch_code)
        if batch.jdlk_only and not score.jdlk:
            return status(False, "本批次仅限建档立卡考生", category=score.major_category)
        line = batch.line_for(score.major_category)
        if line is None or score.admission_total < line:
            return status(
                False, f"投档总分低于本批次 {score.major_category} 类控制线 {line}", category=score.major_category
            )
        return status(True, "", barred, score.major_category)

    def form(self, batch_code: str) -> tuple[SolicitationStatus, list[VacancyRow], list[tuple[str, str, str]]]:
        p = require_candidate()
        with self.ctx.db.unit_of_work() as session:
            cand = candidate_row(session, p.subject)
            info = self.status(session, cand.id, batch_code)
            offered = _vacancy_rows(session, batch_code, info.category) if info.eligible else []
            current = self._current(session, cand.id, batch_code)
        return info, [v for v in offered if v.vacancies > 0], current

    @staticmethod
    def _current(session: Session, candidate_id: int, batch_code: str) -> list[tuple[str, str, str]]:
        row = session.execute(
            select(solicitations).where(
                solicitations.c.candidate_id == candidate_id, solicitations.c.batch_code == batch_code
            )
        ).first()
        if row is None:
            return []
        ids = {getattr(row, f"slot_{s}"): LETTERS[k] for k, s in enumerate(SLOTS) if getattr(row, f"slot_{s}")}
        found = session.execute(
            select(programmes.c.id, programmes.c.institution_code, programmes.c.major_code).where(
                programmes.c.id.in_(list(ids))
            )
        ).all()
        return sorted((ids[r.id], r.institution_code, r.major_code) for r in found)

    def submit(self, batch_code: str, choices: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str]], int]:
        """Saves the candidate's 征集志愿 (slot, institution, major); returns (errors, version)."""
        p = require_candidate()
        with self.ctx.db.unit_of_work() as session:
            cand = candidate_row(session, p.subject)
            info = self.status(session, cand.id, batch_code)
            if not info.eligible:
                raise FailedPrecondition(info.reason, reason="NOT_ELIGIBLE")
            if closed := info.closed_reason(utcnow()):
                raise FailedPrecondition(closed, reason="WINDOW_CLOSED")
            offered = {
                (v.institution_code, v.major_code): v.programme_id
                for v in _vacancy_rows(session, batch_code, info.category)
                if v.vacancies > 0
            }
            errors: list[tuple[str, str]] = []
            picked: dict[str, int] = {}
            seen: set[tuple[str, str]] = set()
            for slot, institution, major in choices:
                letter = slot.strip().upper()
                if len(letter) != 1 or letter not in LETTERS or letter in picked:
                    errors.append((slot[:2], "志愿位置不正确"))
                    continue
                key = (institution.strip(), major.strip())
                if not key[0] and not key[1]:
                    continue
                if key == info.barred:
                    errors.append((letter, "不能填报已将您退档的院校专业"))
                elif key not in offered:
                    errors.append((letter, "该院校专业不在征集计划中或已无缺额"))
                elif key in seen:
                    errors.append((letter, "同一院校专业不能重复填报"))
                else:
                    seen.add(key)
                    picked[letter] = offered[key]
            if not picked and not errors:
                errors.append(("", "请至少填报一个征集志愿"))
            if errors:
                return errors, 0
            slots = {f"slot_{s}": picked.get(LETTERS[k], 0) for k, s in enumerate(SLOTS)}
            version = info.version + 1
            if info.version:
                session.execute(
                    update(solicitations)
                    .where(solicitations.c.candidate_id == cand.id, solicitations.c.batch_code == batch_code)
                    .values(version=version, submitted_at=utcnow(), **slots)
                )
            else:
                session.execute(
                    insert(solicitations).values(
                        candidate_id=cand.id, batch_code=batch_code, version=version, submitted_at=utcnow(), **slots
                    )
                )
            bump_revision(session)
        return [], version


def _vacancy_rows(session: Session, batch_code: str, category: str | None) -> list[VacancyRow]:
    query = (
        select(vacancies, programmes)
        .join(programmes, programmes.c.id == vacancies.c.programme_id)
        .where(vacancies.c.batch_code == batch_code)
        .order_by(programmes.c.institution_code, programmes.c.major_code, vacancies.c.major_category)
    )
    if category is not None:
        query = query.where(vacancies.c.major_category == category)
    return [
        VacancyRow(
            r.programme_id,
            r.institution_code,
            r.institution_name,
            r.major_code,
            r.major_name,
            r.major_category,
            r.places,
            r.admitted,
            r.vacancies,
        )
        for r in session.execute(query).all()
    ]


def check_batch_code(raw: str) -> str:
    code = (raw or "").strip()
    if not code or len(code) > 16 or not code.isascii() or not code.isalnum():
        raise InvalidArgument("批次不正确", reason="BAD_BATCH", field="batch_code")
    return code
