"""The province's exam plan: settings (title, seed), sites and rooms, the timetable.

Staff read it; only the province changes it, audited. A room that the draft or the published
arrangement uses cannot disappear, lose the seats in use or move to another city: printed
tickets point at it. Every change of sites or rooms bumps `plan_version`, so a draft made
before the change cannot be published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.registration.documents.domain import (
    RoomSpec,
    check_no_overlap,
    parse_session,
    parse_settings,
    parse_site,
)
from services.registration.documents.domain import (
    Session as ExamSessionValue,
)
from services.registration.documents.service.common import (
    DRAFT,
    PUBLISHED,
    DocumentsDeps,
    settings_row,
)
from services.registration.documents.tables import (
    ArrangementRow,
    ExamRoomRow,
    ExamSessionRow,
    ExamSettingsRow,
    ExamSiteRow,
    SeatAssignmentRow,
)
from services.registration.domain import ReferenceData
from services.registration.service.common import audit, load_reference
from zsb.common.errors import FailedPrecondition, NotFound
from zsb.common.principal import Role, require_staff


@dataclass
class PlanSnapshot:
    settings: ExamSettingsRow
    sites: list[tuple[ExamSiteRow, list[ExamRoomRow]]]
    sessions: list[ExamSessionRow]
    reference: ReferenceData


def _session_value(row: ExamSessionRow) -> ExamSessionValue:
    return ExamSessionValue(
        row.major_category, row.subject, row.day, time.fromisoformat(row.start), time.fromisoformat(row.end)
    )


def rooms_in_use(session: Session) -> dict[int, int]:
    """Room id -> highest seat number used by the draft or the published arrangement."""
    rows = session.execute(
        select(SeatAssignmentRow.room_id, func.max(SeatAssignmentRow.seat_no))
        .join(ArrangementRow, ArrangementRow.id == SeatAssignmentRow.arrangement_id)
        .where(ArrangementRow.status.in_((DRAFT, PUBLISHED)))
        .group_by(SeatAssignmentRow.room_id)
    ).all()
    return {room_id: int(seat) for room_id, seat in rows}


class PlanService:
    def __init__(self, deps: DocumentsDeps) -> None:
        self.deps = deps

    def _snapshot(self, session: Session) -> PlanSnapshot:
        sites = list(session.scalars(select(ExamSiteRow).order_by(ExamSiteRow.city_code, ExamSiteRow.code)))
        rooms: dict[str, list[ExamRoomRow]] = {}
        for room in session.scalars(select(ExamRoomRow).order_by(ExamRoomRow.site_code, ExamRoomRow.room_no)):
            rooms.setdefault(room.site_code, []).append(room)
        sessions = list(
            session.scalars(
                select(ExamSessionRow).order_by(ExamSessionRow.major_category, ExamSessionRow.day, ExamSessionRow.start)
            )
        )
        return PlanSnapshot(
            settings_row(session),
            [(s, rooms.get(s.code, [])) for s in sites],
            sessions,
            load_reference(session).data,
        )

    def get(self) -> PlanSnapshot:
        require_staff()
        with self.deps.ctx.db.unit_of_work() as session:
            return self._snapshot(session)

    def save_settings(self, exam_title: str, seed: str) -> PlanSnapshot:
        """The exam's title and seed; the printing window is the calendar's 准考证打印 phase."""
        p = require_staff(Role.PROVINCE)
        value = parse_settings(exam_title, seed)
        with self.deps.ctx.db.unit_of_work() as session:
            row = settings_row(session, for_update=True)
            row.exam_title, row.arrangement_seed = value.exam_title, value.arrangement_seed
            row.updated_at, row.updated_by = self.deps.clock(), p.subject
            audit(session, p, "exam_settings_saved", "exam", f"{value.exam_title}；种子 {value.arrangement_seed}")
            return self._snapshot(session)

    def save_site(
        self, code: str, name: str, city_code: str, address: str, rooms: list[tuple[str, int, str]]
    ) -> PlanSnapshot:
        p = require_staff(Role.PROVINCE)
        with self.deps.ctx.db.unit_of_work() as session:
            settings = settings_row(session, for_update=True)  # serialises with runs and publications
            cities = [c.code for c in load_reference(session).data.cities]
            spec = parse_site(code, name, city_code, address, rooms, cities)
            site = session.get(ExamSiteRow, spec.code)
            existing = list(session.scalars(select(ExamRoomRow).where(ExamRoomRow.site_code == spec.code)))
            self._check_rooms_kept(session, site, existing, spec.city_code, spec.rooms)
            if site is None:
                site = ExamSiteRow(code=spec.code)
                session.add(site)
            site.name, site.city_code, site.address = spec.name, spec.city_code, spec.address
            by_no = {r.room_no: r for r in existing}
            wanted = {r.room_no for r in spec.rooms}
            for room in existing:
                if room.room_no not in wanted:
                    session.delete(room)
            session.flush()  # a removed room's number may be reused below: the unique key needs the delete first
            for spec_room in spec.rooms:
                room = by_no.get(spec_room.room_no)
                if room is None:
                    room = ExamRoomRow(site_code=spec.code, room_no=spec_room.room_no)
                    session.add(room)
                room.capacity, room.location = spec_room.capacity, spec_room.location
            settings.plan_version += 1
            seats = sum(r.capacity for r in spec.rooms)
            audit(session, p, "exam_site_saved", spec.code, f"{spec.name}：{len(spec.rooms)}个考场，{seats}个座位")
            session.flush()
            return self._snapshot(session)

    def _check_rooms_kept(
        self,
        session: Session,
        site: ExamSiteRow | None,
        existing: list[ExamRoomRow],
        city_code: str,
        rooms: tuple[RoomSpec, ...],
    ) -> None:
        used = rooms_in_use(session)
        kept = {r.room_no: r for r in rooms}
        for room in existing:
            highest = used.get(room.id)
            if highest is None:
                continue
            if site is not None and site.city_code != city_code:
                raise FailedPrecondition(
                    "该考点的考场已用于编排，不能更改所在地市", reason="ROOM_IN_USE", field="city_code"
                )
            new = kept.get(room.room_no)
            if new is None:
                raise FailedPrecondition(
                    f"考场{room.room_no}已用于编排，不能删除；请先重新编排", reason="ROOM_IN_USE", field="rooms"
                )
            if new.capacity < highest:
                raise FailedPrecondition(
                    f"考场{room.room_no}已编排到{highest}号座位，座位数不能少于{highest}",
                    reason="ROOM_IN_USE",
                    field="rooms",
                )

    def delete_site(self, code: str) -> PlanSnapshot:
        p = require_staff(Role.PROVINCE)
        with self.deps.ctx.db.unit_of_work() as session:
            settings = settings_row(session, for_update=True)
            site = session.get(ExamSiteRow, (code or "").strip().upper()[:10])
            if site is None:
                raise NotFound("考点不存在", reason="NO_SITE", field="code")
            rooms = list(session.scalars(select(ExamRoomRow).where(ExamRoomRow.site_code == site.code)))
            used = rooms_in_use(session)
            if any(r.id in used for r in rooms):
                raise FailedPrecondition("该考点的考场已用于编排，不能删除", reason="ROOM_IN_USE", field="code")
            session.execute(delete(ExamRoomRow).where(ExamRoomRow.site_code == site.code))
            session.delete(site)
            settings.plan_version += 1
            audit(session, p, "exam_site_deleted", site.code, site.name)
            session.flush()
            return self._snapshot(session)

    def save_session(
        self, session_id: int, major_category: str, subject: str, day: str, start: str, end: str
    ) -> PlanSnapshot:
        p = require_staff(Role.PROVINCE)
        with self.deps.ctx.db.unit_of_work() as session:
            settings_row(session, for_update=True)
            categories = [c.code for c in load_reference(session).data.major_categories]
            value = parse_session(major_category, subject, day, start, end, categories)
            others = session.scalars(
                select(ExamSessionRow).where(
                    ExamSessionRow.major_category == value.major_category, ExamSessionRow.id != session_id
                )
            )
            check_no_overlap(value, [_session_value(o) for o in others])
            if session_id:
                row = session.get(ExamSessionRow, session_id)
                if row is None:
                    raise NotFound("考试科目不存在", reason="NO_SESSION", field="id")
            else:
                row = ExamSessionRow()
                session.add(row)
            row.major_category, row.subject, row.day = value.major_category, value.subject, value.day
            row.start, row.end = value.start.strftime("%H:%M"), value.end.strftime("%H:%M")
            audit(
                session,
                p,
                "exam_session_saved",
                value.major_category,
                f"{value.subject} {value.day} {row.start}-{row.end}",
            )
            session.flush()
            return self._snapshot(session)

    def delete_session(self, session_id: int) -> PlanSnapshot:
        p = require_staff(Role.PROVINCE)
        with self.deps.ctx.db.unit_of_work() as session:
            settings_row(session, for_update=True)
            row = session.get(ExamSessionRow, session_id)
            if row is None:
                raise NotFound("考试科目不存在", reason="NO_SESSION", field="id")
            audit(session, p, "exam_session_deleted", row.major_category, f"{row.subject} {row.day} {row.start}")
            session.delete(row)
            session.flush()
            return self._snapshot(session)
