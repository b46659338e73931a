"""考场编排: the province runs an arrangement (a draft), staff review it, the province publishes it.

Only one draft exists at a time (a new run replaces it) and only one arrangement is published
(publishing supersedes the previous one). Every use case that changes arrangements locks the
`exam_settings` row first, so concurrent runs and publications are serialised on MariaDB too.
Each seat gets a random ticket serial; a seat kept from the published arrangement keeps its
serial, so its printed ticket stays valid.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from services.registration.adapters import Candidate
from services.registration.documents.domain import CapacityShortage, Examinee, Room, arrange
from services.registration.documents.service.common import (
    DISCARDED,
    DRAFT,
    PUBLISHED,
    SUPERSEDED,
    DocumentsDeps,
    arrangement_with_status,
    eligible_query,
    major_category_of,
    settings_row,
)
from services.registration.documents.tables import (
    ArrangementRow,
    ExamRoomRow,
    ExamSiteRow,
    SeatAssignmentRow,
)
from services.registration.documents.tokens import new_serial
from services.registration.service.common import audit, load_reference, publish, timestamp
from services.registration.service.staff import scoped
from zsb.common.errors import FailedPrecondition, InvalidArgument, NotFound
from zsb.common.principal import Principal, Role, require_staff
from zsb.events.v1 import registration_events_pb2 as ev

MAX_PAGE = 500


@dataclass
class RoomFill:
    room: ExamRoomRow
    site: ExamSiteRow
    category: str
    used: int


@dataclass
class ArrangementReport:
    row: ArrangementRow | None
    plan_changed: bool = False
    eligible_now: int = 0
    missing: int = 0
    stale: int = 0
    cities: list[tuple[str, str, int, int, int]] = field(default_factory=list)  # code, name, people, rooms, seats
    rooms: list[RoomFill] = field(default_factory=list)
    published_id: int = 0
    draft_id: int = 0


def _city_filter(p: Principal) -> str | None:
    """The city a staff member's arrangement views are limited to (None: the whole province)."""
    return None if p.role == Role.PROVINCE else (p.city_code or "--")


class ArrangementService:
    def __init__(self, deps: DocumentsDeps) -> None:
        self.deps = deps

    # --- run ---------------------------------------------------------------------------------

    def run(self, keep_published: bool) -> ArrangementReport:
        p = require_staff(Role.PROVINCE)
        now = self.deps.clock()
        with self.deps.ctx.db.unit_of_work() as session:
            settings = settings_row(session, for_update=True)
            reference = load_reference(session).data
            examinees = [
                Examinee(number, city, major_category_of(data))
                for number, city, data in session.execute(eligible_query())
            ]
            if not examinees:
                raise FailedPrecondition("目前没有符合编排条件的考生", reason="NO_CANDIDATES")
            rooms = {
                room.id: (room, site)
                for room, site in session.execute(
                    select(ExamRoomRow, ExamSiteRow).join(ExamSiteRow, ExamSiteRow.code == ExamRoomRow.site_code)
                )
            }
            published = arrangement_with_status(session, PUBLISHED)
            previous: dict[str, tuple[int, int]] = {}
            serials: dict[str, tuple[int, int, str]] = {}
            if published is not None:
                for a in session.scalars(
                    select(SeatAssignmentRow).where(SeatAssignmentRow.arrangement_id == published.id)
                ):
                    serials[a.candidate_no] = (a.room_id, a.seat_no, a.ticket_serial)
                    if keep_published:
                        previous[a.candidate_no] = (a.room_id, a.seat_no)
            try:
                seats = arrange(
                    examinees,
                    [Room(r.id, r.site_code, s.city_code, r.room_no, r.capacity) for r, s in rooms.values()],
                    settings.arrangement_seed,
                    previous,
                )
            except CapacityShortage as exc:
                cities, majors = reference.cities, reference.major_categories
                parts = []
                for s in exc.shortages:
                    city, major = cities.get(s.city_code), majors.get(s.major_category)
                    parts.append(
                        f"{city.name if city else s.city_code}{major.name if major else s.major_category}{s.unplaced}人"
                    )
                raise FailedPrecondition(
                    f"考场座位不足，以下考生无法安排：{'、'.join(parts)}。请增加考场或座位后重新编排",
                    reason="CAPACITY_SHORTAGE",
                ) from exc

            draft = arrangement_with_status(session, DRAFT)
            if draft is not None:  # a new run replaces the draft waiting for review
                session.execute(delete(SeatAssignmentRow).where(SeatAssignmentRow.arrangement_id == draft.id))
                draft.status = DISCARDED
            row = ArrangementRow(
                status=DRAFT,
                seed=settings.arrangement_seed,
                kept_published=bool(keep_published and published is not None),
                plan_version=settings.plan_version,
                candidates=len(seats),
                created_at=now,
                created_by=p.subject,
                published_by="",
            )
            session.add(row)
            session.flush()
            people = {e.candidate_no: e for e in examinees}
            values = []
            for seat in seats:
                room, site = rooms[seat.room_id]
                old = serials.get(seat.candidate_no)
                same = old is not None and old[:2] == (seat.room_id, seat.seat_no)
                values.append(
                    {
                        "arrangement_id": row.id,
                        "candidate_no": seat.candidate_no,
                        "city_code": site.city_code,
                        "major_category": people[seat.candidate_no].major_category,
                        "site_code": site.code,
                        "room_id": room.id,
                        "room_no": room.room_no,
                        "seat_no": seat.seat_no,
                        "ticket_serial": old[2] if same and old else new_serial(),
                    }
                )
            session.execute(insert(SeatAssignmentRow), values)
            audit(session, p, "arrangement_run", "arrangement", f"编排#{row.id}：{len(seats)}名考生")
            return self._report(session, row, p)

    # --- review --------------------------------------------------------------------------------

    def get(self, arrangement_id: int) -> ArrangementReport:
        p = require_staff()
        with self.deps.ctx.db.unit_of_work() as session:
            if arrangement_id:
                row = session.get(ArrangementRow, arrangement_id)
                if row is None:
                    raise NotFound("编排不存在", reason="NO_ARRANGEMENT", field="arrangement_id")
            else:
                row = arrangement_with_status(session, DRAFT) or arrangement_with_status(session, PUBLISHED)
            return self._report(session, row, p)

    def _report(self, session: Session, row: ArrangementRow | None, p: Principal) -> ArrangementReport:
        draft, published = arrangement_with_status(session, DRAFT), arrangement_with_status(session, PUBLISHED)
        report = ArrangementReport(
            row, published_id=published.id if published else 0, draft_id=draft.id if draft else 0
        )
        city = _city_filter(p)
        eligible = {
            number for number, city_code, _ in session.execute(eligible_query()) if city is None or city_code == city
        }
        report.eligible_now = len(eligible)
        if row is None:
            report.missing = len(eligible)
            return report
        report.plan_changed = row.plan_version != settings_row(session).plan_version
        query = (
            select(SeatAssignmentRow, ExamRoomRow, ExamSiteRow)
            .join(ExamRoomRow, ExamRoomRow.id == SeatAssignmentRow.room_id, isouter=True)
            .join(ExamSiteRow, ExamSiteRow.code == SeatAssignmentRow.site_code, isouter=True)
            .where(SeatAssignmentRow.arrangement_id == row.id)
        )
        if city is not None:
            query = query.where(SeatAssignmentRow.city_code == city)
        seated: set[str] = set()
        fills: dict[int, RoomFill] = {}
        people: Counter[str] = Counter()
        for seat, room, site in session.execute(query):
            seated.add(seat.candidate_no)
            people[seat.city_code] += 1
            if room is None or site is None:  # a room of a superseded arrangement, since removed
                continue
            fill = fills.get(room.id)
            if fill is None:
                fill = fills[room.id] = RoomFill(room, site, seat.major_category, 0)
            fill.used += 1
        report.missing = len(eligible - seated)
        report.stale = len(seated - eligible)
        report.rooms = sorted(fills.values(), key=lambda f: (f.site.code, f.room.room_no))
        cities = load_reference(session).data.cities
        rooms_by_city: dict[str, list[RoomFill]] = defaultdict(list)
        for fill in report.rooms:
            rooms_by_city[fill.site.city_code].append(fill)
        for code in sorted(set(people) | set(rooms_by_city)):
            option = cities.get(code)
            used = rooms_by_city.get(code, [])
            report.cities.append(
                (code, option.name if option else code, people[code], len(used), sum(f.room.capacity for f in used))
            )
        return report

    def list_seats(
        self,
        arrangement_id: int,
        city_code: str,
        site_code: str,
        room_no: str,
        candidate_no: str,
        limit: int,
        offset: int,
    ) -> tuple[list[tuple[SeatAssignmentRow, Candidate, ExamSiteRow | None]], int]:
        p = require_staff()
        if limit < 0 or offset < 0:
            raise InvalidArgument("分页参数不正确", reason="BAD_PAGE", field="offset")
        query = scoped(
            select(SeatAssignmentRow, Candidate, ExamSiteRow)
            .join(Candidate, Candidate.candidate_no == SeatAssignmentRow.candidate_no)
            .join(ExamSiteRow, ExamSiteRow.code == SeatAssignmentRow.site_code, isouter=True)
            .where(SeatAssignmentRow.arrangement_id == arrangement_id),
            p,
        )
        if city_code:
            query = query.where(SeatAssignmentRow.city_code == city_code[:2])
        if site_code:
            query = query.where(SeatAssignmentRow.site_code == site_code.strip().upper()[:10])
        if room_no:
            query = query.where(SeatAssignmentRow.room_no == room_no.strip().upper()[:10])
        if candidate_no:
            query = query.where(SeatAssignmentRow.candidate_no == candidate_no.strip()[:14])
        with self.deps.ctx.db.unit_of_work() as session:
            if session.get(ArrangementRow, arrangement_id) is None:
                raise NotFound("编排不存在", reason="NO_ARRANGEMENT", field="arrangement_id")
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.execute(
                query.order_by(SeatAssignmentRow.site_code, SeatAssignmentRow.room_no, SeatAssignmentRow.seat_no)
                .limit(min(limit or 100, MAX_PAGE))
                .offset(offset)
            ).all()
            return [(a, c, s) for a, c, s in rows], total

    # --- publish and discard -----------------------------------------------------------------------

    def publish(self, arrangement_id: int) -> ArrangementReport:
        p = require_staff(Role.PROVINCE)
        now = self.deps.clock()
        with self.deps.ctx.db.unit_of_work() as session:
            settings = settings_row(session, for_update=True)
            row = session.get(ArrangementRow, arrangement_id)
            if row is None:
                raise NotFound("编排不存在", reason="NO_ARRANGEMENT", field="arrangement_id")
            if row.status != DRAFT:
                raise FailedPrecondition("只能发布待审核的编排", reason="NOT_A_DRAFT")
            if row.plan_version != settings.plan_version:
                raise FailedPrecondition("编排后考点或考场已修改，请重新编排后再发布", reason="PLAN_CHANGED")
            old = arrangement_with_status(session, PUBLISHED)
            moved = 0
            if old is not None:
                before = dict(
                    session.execute(
                        select(SeatAssignmentRow.candidate_no, SeatAssignmentRow.ticket_serial).where(
                            SeatAssignmentRow.arrangement_id == old.id
                        )
                    ).all()
                )
                after = dict(
                    session.execute(
                        select(SeatAssignmentRow.candidate_no, SeatAssignmentRow.ticket_serial).where(
                            SeatAssignmentRow.arrangement_id == row.id
                        )
                    ).all()
                )
                moved = sum(1 for number, serial in after.items() if number in before and before[number] != serial)
                session.execute(update(ArrangementRow).where(ArrangementRow.id == old.id).values(status=SUPERSEDED))
            row.status, row.published_at, row.published_by = PUBLISHED, now, p.subject
            counts = session.execute(
                select(
                    func.count(func.distinct(SeatAssignmentRow.site_code)),
                    func.count(func.distinct(SeatAssignmentRow.room_id)),
                ).where(SeatAssignmentRow.arrangement_id == row.id)
            ).one()
            publish(
                session,
                "arrangement",
                ev.ArrangementPublished(
                    arrangement_id=row.id,
                    superseded_arrangement_id=old.id if old else 0,
                    candidates=row.candidates,
                    sites=int(counts[0]),
                    rooms=int(counts[1]),
                    moved=moved,
                    actor=p.subject,
                    at=timestamp(now),
                ),
            )
            audit(session, p, "arrangement_published", "arrangement", f"编排#{row.id}：{row.candidates}名考生")
            session.flush()
            return self._report(session, row, p)

    def discard(self, arrangement_id: int) -> ArrangementReport:
        p = require_staff(Role.PROVINCE)
        with self.deps.ctx.db.unit_of_work() as session:
            settings_row(session, for_update=True)
            row = session.get(ArrangementRow, arrangement_id)
            if row is None:
                raise NotFound("编排不存在", reason="NO_ARRANGEMENT", field="arrangement_id")
            if row.status != DRAFT:
                raise FailedPrecondition("只能放弃待审核的编排", reason="NOT_A_DRAFT")
            session.execute(delete(SeatAssignmentRow).where(SeatAssignmentRow.arrangement_id == row.id))
            row.status = DISCARDED
            audit(session, p, "arrangement_discarded", "arrangement", f"编排#{row.id}")
            session.flush()
            return self._report(session, row, p)
