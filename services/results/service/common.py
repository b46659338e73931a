"""What the use cases share: events, the staff audit, the input revision, settings, lookups."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.results.adapters.tables import (
    admission_settings,
    batches,
    candidates,
    input_revision,
    phases,
    score_publications,
    staff_audit,
)
from services.results.domain.settings import AdmissionSettings, default_settings, from_json
from zsb.common.clock import utcnow
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.outbox import add_event
from zsb.common.principal import Principal
from zsb.events.v1 import results_events_pb2 as ev

SERVICE = "results"
ADMISSION_KEY = "admission"
CANDIDATE_NO_MAX = 14


def timestamp(at: datetime | None = None) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at or utcnow())
    return ts


def unix(at: datetime | None) -> int:
    return int(at.replace(tzinfo=UTC).timestamp()) if at is not None else 0


def from_unix(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None) if seconds else None


def publish(session: Session, key: str, message: Message) -> None:
    add_event(session, SERVICE, key, message)


def audit(session: Session, actor: Principal, action: str, subject: str, detail: str = "") -> None:
    """Record a staff action and publish it, in the caller's transaction."""
    now = utcnow()
    session.execute(
        insert(staff_audit).values(
            at=now,
            actor=actor.subject[:40],
            actor_role=actor.role.value,
            action=action,
            subject=subject[:40],
            detail=detail[:500],
        )
    )
    publish(
        session,
        subject[:40] or ADMISSION_KEY,
        ev.ResultsStaffAction(
            action=action,
            subject=subject[:40],
            actor=actor.subject,
            actor_role=actor.role.value,
            detail=detail[:500],
            at=timestamp(now),
        ),
    )


def bump_revision(session: Session) -> None:
    """A run's input changed: dry runs made before can no longer be published."""
    changed = session.execute(
        update(input_revision).where(input_revision.c.id == 1).values(revision=input_revision.c.revision + 1)
    ).rowcount
    if not changed:
        session.execute(insert(input_revision).values(id=1, revision=1))


def current_revision(session: Session) -> int:
    return session.execute(select(input_revision.c.revision).where(input_revision.c.id == 1)).scalar() or 0


def check_candidate_no(raw: str) -> str:
    value = (raw or "").strip()
    if not value or len(value) > CANDIDATE_NO_MAX or not value.isascii() or not value.isalnum():
        raise InvalidArgument("考生号不正确", reason="BAD_CANDIDATE_NO", field="candidate_no")
    return value


def candidate_row(session: Session, candidate_no: str):
    """The candidate's projection row, or NOT_FOUND."""
    row = session.execute(select(candidates).where(candidates.c.candidate_no == candidate_no)).first()
    if row is None:
        raise NotFound("未找到该考生", reason="CANDIDATE_NOT_FOUND", field="candidate_no")
    return row


def load_settings(session: Session) -> tuple[AdmissionSettings, int, str, datetime | None]:
    """(settings, version, updated_by, updated_at); before the province saves any, the batches
    as the plan events announced them (version 0)."""
    row = session.execute(select(admission_settings).where(admission_settings.c.id == 1)).first()
    if row is not None:
        return from_json(json.loads(row.data_json)), row.version, row.updated_by, row.updated_at
    known = session.execute(select(batches).order_by(batches.c.position, batches.c.code)).all()
    return default_settings([(b.code, b.name, b.poverty_only) for b in known]), 0, "", None


def current_publication(session: Session):
    """The latest score publication row, or None."""
    return session.execute(select(score_publications).order_by(score_publications.c.id.desc()).limit(1)).first()


def published_phases(session: Session) -> dict[int, object]:
    return {row.phase_index: row for row in session.execute(select(phases)).all()}
