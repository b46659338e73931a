"""What the use cases share: views of batches and versions, events and the staff audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.preferences.adapters import BatchRow, ItemRow, StaffActionRow, VersionRow
from services.preferences.domain.batches import Window, WindowState
from services.preferences.domain.filling import Item
from zsb.common.clock import utcnow
from zsb.common.errors import NotFound
from zsb.common.outbox import add_event
from zsb.common.principal import Principal
from zsb.events.v1 import preferences_events_pb2 as ev

SERVICE = "preferences"
PLAN_KEY = "plan"  # the event key of the plan and the batches


def timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def publish(session: Session, key: str, message: Message) -> None:
    add_event(session, SERVICE, key, message)


def audit(session: Session, p: Principal, action: str, subject: str, detail: str = "") -> None:
    """Record a staff action and publish it, in the caller's transaction."""
    now = utcnow()
    session.add(
        StaffActionRow(
            at=now, actor=p.subject, actor_role=p.role.value, action=action, subject=subject, detail=detail[:1000]
        )
    )
    publish(
        session,
        PLAN_KEY,
        ev.PreferencesStaffAction(
            action=action,
            subject=subject,
            actor=p.subject,
            actor_role=p.role.value,
            detail=detail[:1000],
            at=timestamp(now),
        ),
    )


@dataclass(frozen=True)
class BatchView:
    code: str
    name: str
    position: int
    poverty_only: bool
    opens_at: datetime | None
    closes_at: datetime | None
    state: WindowState
    window_text: str
    closed_reason: str
    schedule_line: str = ""

    @classmethod
    def of(cls, row: BatchRow, now: datetime) -> BatchView:
        window = Window(row.opens_at, row.closes_at)
        return cls(
            row.code,
            row.name,
            row.position,
            row.poverty_only,
            row.opens_at,
            row.closes_at,
            window.state(now),
            window.text(now),
            window.closed_reason(now),
            str(window.line(f"{row.name}志愿填报", now)),
        )


def load_batches(session: Session, for_update: bool = False) -> list[BatchRow]:
    query = select(BatchRow).order_by(BatchRow.position, BatchRow.code)
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def load_batch(session: Session, code: str) -> BatchRow:
    row = session.get(BatchRow, (code or "").strip()[:16])
    if row is None:
        raise NotFound("批次不存在", reason="NO_BATCH", field="batch_code")
    return row


def batch_events(rows: list[BatchRow]) -> list[ev.EnrollmentBatch]:
    return [
        ev.EnrollmentBatch(
            code=r.code,
            name=r.name,
            position=r.position,
            poverty_only=r.poverty_only,
            opens_at=timestamp(r.opens_at),
            closes_at=timestamp(r.closes_at),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class VersionView:
    id: int
    number: int
    submitted_at: datetime
    current: bool
    items: list[Item] = field(default_factory=list)


def load_versions(session: Session, candidate_no: str, batch_code: str, current_id: int | None) -> list[VersionView]:
    """Every version of a candidate's batch with its items, newest first."""
    versions = list(
        session.scalars(
            select(VersionRow)
            .where(VersionRow.candidate_no == candidate_no, VersionRow.batch_code == batch_code)
            .order_by(VersionRow.number.desc())
        )
    )
    if not versions:
        return []
    items: dict[int, list[Item]] = {v.id: [] for v in versions}
    for row in session.scalars(
        select(ItemRow).where(ItemRow.version_id.in_(list(items))).order_by(ItemRow.version_id, ItemRow.slot)
    ):
        items[row.version_id].append(
            Item(row.slot, row.institution_code, row.institution_name, row.major_code, row.major_name)
        )
    return [VersionView(v.id, v.number, v.submitted_at, v.id == current_id, items[v.id]) for v in versions]


def load_version(session: Session, version_id: int, current: bool) -> VersionView:
    v = session.get(VersionRow, version_id)
    assert v is not None
    rows = session.scalars(select(ItemRow).where(ItemRow.version_id == version_id).order_by(ItemRow.slot))
    items = [Item(r.slot, r.institution_code, r.institution_name, r.major_code, r.major_name) for r in rows]
    return VersionView(v.id, v.number, v.submitted_at, current, items)
