"""The calendar of the year: the province sets each phase's window; everyone reads it.

Each change is audited (`calendar_changed`) and published as `CalendarPhaseChanged`, from which
other services keep their own copy (zsb.common.calendar). This service enforces 网上报名,
信息确认, 资格审核 and 准考证打印 (表格下载) from its own table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.registration.adapters import calendar_phases
from services.registration.documents.tables import ArrangementRow
from services.registration.service.common import audit, publish, timestamp
from zsb.common.calendar import Calendar, Phase, Window, is_phase, load_calendar, parse_phase, store_phase
from zsb.common.clock import beijing_text, unix, utcnow
from zsb.common.principal import Role, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import registration_events_pb2 as ev

PUBLISH_KEY = "calendar"


@dataclass(frozen=True)
class PhaseRecord:
    updated_at: datetime | None
    updated_by: str


@dataclass(frozen=True)
class CalendarSnapshot:
    calendar: Calendar
    records: dict[Phase, PhaseRecord]
    now: datetime
    arrangement_published: bool = False  # 准考证打印 waits for it

    def published(self, phase: Phase) -> bool | None:
        """Whether the publication a phase waits for is out, when this service knows it."""
        return self.arrangement_published if phase is Phase.TICKET_PRINTING else None


def require_phase(session: Session, phase: Phase, now: datetime) -> None:
    """The gate of a registration use case: FailedPrecondition PHASE_CLOSED outside the window."""
    load_calendar(session, calendar_phases).require_open(phase, now)


def _snapshot(session: Session, now: datetime) -> CalendarSnapshot:
    rows = session.execute(
        select(calendar_phases.c.phase, calendar_phases.c.updated_at, calendar_phases.c.updated_by)
    ).all()
    records = {Phase(r.phase): PhaseRecord(r.updated_at, r.updated_by) for r in rows if is_phase(r.phase)}
    # "published" as documents.service.common.PUBLISHED (not imported: documents' use cases import this module)
    published = session.scalar(select(ArrangementRow.id).where(ArrangementRow.status == "published").limit(1))
    return CalendarSnapshot(load_calendar(session, calendar_phases), records, now, published is not None)


class CalendarService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def get(self) -> CalendarSnapshot:
        with self.ctx.db.unit_of_work() as session:
            return _snapshot(session, utcnow())

    def set_phase(self, phase_value: str, opens_at: datetime | None, closes_at: datetime | None) -> CalendarSnapshot:
        """The province only; audited and published in the same transaction."""
        p = require_staff(Role.PROVINCE)
        phase = parse_phase(phase_value)
        window = Window(opens_at, closes_at)  # InvalidArgument when it closes before it opens
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            # Microseconds of the change: later changes win in every copy, even one rebuilt by
            # replaying the topic from the start; +1 keeps it growing if the clock steps back.
            latest = session.scalar(select(func.max(calendar_phases.c.version))) or 0
            version = max(unix(now) * 1_000_000 + now.microsecond, latest + 1)
            store_phase(session, calendar_phases, phase, window, version, now, p.subject)
            detail = "{}–{}".format(
                beijing_text(opens_at) if opens_at else "不限", beijing_text(closes_at) if closes_at else "不限"
            )
            audit(session, p, "calendar_changed", phase.value, detail)
            publish(
                session,
                PUBLISH_KEY,
                ev.CalendarPhaseChanged(
                    phase=phase.value,
                    opens_at=timestamp(opens_at) if opens_at else None,
                    closes_at=timestamp(closes_at) if closes_at else None,
                    version=version,
                    actor=p.subject,
                    at=timestamp(now),
                ),
            )
            session.flush()
            return _snapshot(session, now)
