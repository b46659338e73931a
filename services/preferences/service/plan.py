"""The province's side: importing the plan, ordering batches and setting their windows; and
reading the plan, which every signed-in caller may do (a candidate: their own category)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from services.preferences.adapters import (
    BatchRow,
    CandidateRow,
    HeadRow,
    InstitutionRow,
    ItemRow,
    MajorRow,
    PlanLineRow,
    PlanStateRow,
    StaffActionRow,
    VersionRow,
)
from services.preferences.domain.batches import BY_CODE, check_window
from services.preferences.domain.plan import PlanLine, Problem, check_plan
from services.preferences.service.common import (
    PLAN_KEY,
    BatchView,
    audit,
    batch_events,
    load_batch,
    load_batches,
    publish,
    timestamp,
)
from zsb.common.clock import beijing_text, utcnow
from zsb.common.errors import InvalidArgument
from zsb.common.principal import Role, current_principal, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import preferences_events_pb2 as ev

MAX_PLAN_LINES = 5000
MAX_QUERY = 30


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    institutions: int = 0
    majors: int = 0
    lines: int = 0
    places: int = 0
    version: int = 0


@dataclass
class PlanPage:
    batches: list[BatchView]
    lines: list[PlanLine]
    major_category: str
    category_known: bool
    version: int
    truncated: bool


class PlanService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # ---- import ----

    def import_plan(self, rows: list[dict[str, str]]) -> ImportResult:
        """Replace institutions, majors and plan lines, all or nothing."""
        p = require_staff(Role.PROVINCE)
        lines, problems = check_plan(rows)
        if problems:
            return ImportResult(problems=problems)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            state = session.get(PlanStateRow, 1, with_for_update=True)
            assert state is not None  # created by the migration
            problems = _still_needed(session, lines)
            if problems:
                return ImportResult(problems=problems)
            for table in (PlanLineRow, MajorRow, InstitutionRow):
                session.execute(delete(table))
            institutions = {line.institution_code: line.institution_name for line in lines}
            majors = {(line.institution_code, line.major_code): line for line in lines}
            session.execute(insert(InstitutionRow), [{"code": c, "name": n} for c, n in institutions.items()])
            session.execute(
                insert(MajorRow),
                [
                    {"institution_code": i, "code": m, "name": line.major_name, "category": line.major_category}
                    for (i, m), line in majors.items()
                ],
            )
            session.execute(
                insert(PlanLineRow),
                [
                    {
                        "batch_code": line.batch_code,
                        "institution_code": line.institution_code,
                        "major_code": line.major_code,
                        "category": line.major_category,
                        "places": line.places,
                    }
                    for line in lines
                ],
            )
            state.version += 1
            state.imported_at, state.imported_by = now, p.subject
            places = sum(line.places for line in lines)
            audit(
                session,
                p,
                "plan_imported",
                PLAN_KEY,
                f"version={state.version} institutions={len(institutions)} majors={len(majors)} "
                f"lines={len(lines)} places={places}",
            )
            publish(
                session,
                PLAN_KEY,
                ev.EnrollmentPlanPublished(
                    version=state.version,
                    batches=batch_events(load_batches(session)),
                    lines=[
                        ev.EnrollmentPlanLine(
                            batch_code=line.batch_code,
                            institution_code=line.institution_code,
                            institution_name=line.institution_name,
                            major_code=line.major_code,
                            major_name=line.major_name,
                            major_category=line.major_category,
                            places=line.places,
                        )
                        for line in lines
                    ],
                    actor=p.subject,
                    at=timestamp(now),
                ),
            )
            return ImportResult([], len(institutions), len(majors), len(lines), places, state.version)

    # ---- batches ----

    def list_batches(self) -> list[BatchView]:
        current_principal()
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            return [BatchView.of(r, now) for r in load_batches(session)]

    def schedule_batch(self, code: str, opens_at: datetime | None, closes_at: datetime | None) -> BatchView:
        p = require_staff(Role.PROVINCE)
        problem = check_window(opens_at, closes_at)
        if problem:
            raise InvalidArgument(problem, reason="BAD_WINDOW", field="closes_at")
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = load_batch(session, code)
            row.opens_at, row.closes_at = opens_at, closes_at
            row.updated_at, row.updated_by = now, p.subject
            span = f"{beijing_text(opens_at)} 至 {beijing_text(closes_at)}" if opens_at and closes_at else "清除"
            audit(session, p, "batch_scheduled", row.code, f"{row.name} 填报时间：{span}")
            session.flush()
            publish(
                session,
                PLAN_KEY,
                ev.EnrollmentBatchesChanged(
                    batches=batch_events(load_batches(session)), actor=p.subject, at=timestamp(now)
                ),
            )
            return BatchView.of(row, now)

    def order_batches(self, codes: list[str]) -> list[BatchView]:
        p = require_staff(Role.PROVINCE)
        wanted = [c.strip() for c in codes]
        if sorted(wanted) != sorted(BY_CODE) or len(set(wanted)) != len(wanted):
            raise InvalidArgument("请为每个批次指定一次顺序", reason="BAD_ORDER", field="codes")
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            rows = {r.code: r for r in load_batches(session, for_update=True)}
            for position, code in enumerate(wanted, start=1):
                rows[code].position = position
                rows[code].updated_at, rows[code].updated_by = now, p.subject
            audit(session, p, "batches_ordered", PLAN_KEY, " → ".join(rows[c].name for c in wanted))
            session.flush()
            ordered = load_batches(session)
            publish(
                session,
                PLAN_KEY,
                ev.EnrollmentBatchesChanged(batches=batch_events(ordered), actor=p.subject, at=timestamp(now)),
            )
            return [BatchView.of(r, now) for r in ordered]

    def list_staff_actions(self, limit: int) -> list[StaffActionRow]:
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            query = select(StaffActionRow).order_by(StaffActionRow.id.desc()).limit(min(max(limit, 1), 500))
            return list(session.scalars(query))

    # ---- reading the plan ----

    def get_plan(self, query: str, batch_code: str, major_category: str) -> PlanPage:
        p = current_principal()
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            batches = [BatchView.of(r, now) for r in load_batches(session)]
            version = session.get(PlanStateRow, 1).version  # type: ignore[union-attr]
            if p.role == Role.CANDIDATE:
                me = session.get(CandidateRow, p.subject)
                category = me.major_category if me is not None and me.confirmed_at is not None else ""
                if not category:
                    return PlanPage(batches, [], "", False, version, False)
            else:
                require_staff()
                category = (major_category or "").strip()[:4]
            lines, truncated = _plan_lines(session, query, batch_code, category, batches)
            return PlanPage(batches, lines, category, True, version, truncated)


def _plan_lines(
    session: Session, query: str, batch_code: str, category: str, batches: list[BatchView]
) -> tuple[list[PlanLine], bool]:
    q = (
        select(PlanLineRow, InstitutionRow.name, MajorRow.name)
        .join(InstitutionRow, InstitutionRow.code == PlanLineRow.institution_code)
        .join(
            MajorRow,
            (MajorRow.institution_code == PlanLineRow.institution_code) & (MajorRow.code == PlanLineRow.major_code),
        )
        .order_by(PlanLineRow.institution_code, PlanLineRow.major_code)
    )
    if category:
        q = q.where(PlanLineRow.category == category)
    if batch_code:
        q = q.where(PlanLineRow.batch_code == batch_code.strip()[:16])
    text = (query or "").strip()[:MAX_QUERY]
    if text:
        # Escape LIKE's wildcards: a search for '5%' means the characters, not a pattern.
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(
            or_(
                PlanLineRow.institution_code.like(like, escape="\\"),
                InstitutionRow.name.like(like, escape="\\"),
                PlanLineRow.major_code.like(like, escape="\\"),
                MajorRow.name.like(like, escape="\\"),
            )
        )
    rows = session.execute(q.limit(MAX_PLAN_LINES + 1)).all()
    order = {b.code: b.position for b in batches}
    lines = [
        PlanLine(r[0].batch_code, r[0].institution_code, r[1], r[0].major_code, r[2], r[0].category, r[0].places)
        for r in rows[:MAX_PLAN_LINES]
    ]
    lines.sort(key=lambda line: (order.get(line.batch_code, 99), line.institution_code, line.major_code))
    return lines, len(rows) > MAX_PLAN_LINES


def _still_needed(session: Session, new_lines: list[PlanLine]) -> list[Problem]:
    """A new plan may not drop, or move to another category, a major that candidates have filled."""
    filled = session.execute(
        select(
            VersionRow.batch_code,
            ItemRow.institution_code,
            ItemRow.major_code,
            func.count(func.distinct(VersionRow.candidate_no)),
        )
        .join(ItemRow, ItemRow.version_id == VersionRow.id)
        .join(HeadRow, HeadRow.current_version_id == VersionRow.id)
        .where(HeadRow.withdrawn_at.is_(None))
        .group_by(VersionRow.batch_code, ItemRow.institution_code, ItemRow.major_code)
    ).all()
    if not filled:
        return []
    old = {(r.batch_code, r.institution_code, r.major_code): r.category for r in session.scalars(select(PlanLineRow))}
    new = {line.key: line.major_category for line in new_lines}
    names = {b.code: b.name for b in session.scalars(select(BatchRow))}
    problems: list[Problem] = []
    by_key: dict[tuple[str, str, str], int] = defaultdict(int)
    for batch, inst, major, count in filled:
        by_key[(batch, inst, major)] += count
    for (batch, inst, major), count in sorted(by_key.items()):
        where = f"{names.get(batch, batch)} 院校{inst} 专业{major}"
        if (batch, inst, major) not in new:
            problems.append(Problem(0, "", f"{where}已有{count}名考生填报，新计划不能删除该专业"))
        elif old.get((batch, inst, major)) not in (None, new[(batch, inst, major)]):
            problems.append(Problem(0, "", f"{where}已有{count}名考生填报，新计划不能改变该专业的报考专业类别"))
    return problems
