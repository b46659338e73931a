"""What the use cases share: time, reference data, the report lock, events, the staff audit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.registration.adapters import (
    AuditRow,
    BasicInfoRow,
    Candidate,
    CandidateRepository,
    DocumentRow,
    ReferenceDataRow,
    ReportRow,
)
from services.registration.domain import SEED, ReferenceData, Registration, is_report_locked
from zsb.common.clock import to_beijing, utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument, NotFound
from zsb.common.outbox import add_event
from zsb.common.principal import Principal
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import registration_events_pb2 as ev

SERVICE = "registration"
CANDIDATE_NO_MAX = 14
# Fields of the form stored encrypted instead of in the JSON, with the blind-index context of each.
ENCRYPTED_FIELDS = ("id_number", "phone", "recipient_phone")


def today_beijing(now: datetime) -> date:
    return to_beijing(now).date()


def timestamp(at: datetime | None = None) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at or utcnow())
    return ts


def publish(session: Session, key: str, message: Message) -> None:
    add_event(session, SERVICE, key, message)


def check_candidate_no(candidate_no: str) -> str:
    value = (candidate_no or "").strip()
    if not value or len(value) > CANDIDATE_NO_MAX or not value.isascii() or not value.isalnum():
        raise InvalidArgument("考生号不正确", reason="BAD_CANDIDATE_NO", field="candidate_no")
    return value


# --- reference data --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredReference:
    data: ReferenceData
    version: int  # 0: the seed of domain/reference.py
    updated_at: datetime | None
    updated_by: str


def load_reference(session: Session) -> StoredReference:
    """The province's lists, or the seed until the province first replaces it."""
    row = session.get(ReferenceDataRow, 1)
    if row is None:
        return StoredReference(SEED, 0, None, "")
    return StoredReference(
        ReferenceData.from_dict(json.loads(row.data_json)), row.version, row.updated_at, row.updated_by
    )


# --- 上报 -------------------------------------------------------------------------------------


def report_locked(session: Session, point_code: str) -> bool:
    """Whether the point, or its city, has reported: its candidates' forms are read-only."""
    if not point_code:
        return False
    rows = session.scalars(
        select(ReportRow).where(
            ReportRow.reported.is_(True),
            or_(
                (ReportRow.scope == "point") & (ReportRow.code == point_code),
                (ReportRow.scope == "city") & (ReportRow.code == point_code[:2]),
            ),
        )
    ).all()
    points = [r.code for r in rows if r.scope == "point"]
    cities = [r.code for r in rows if r.scope == "city"]
    return is_report_locked(point_code, points, cities)


# --- audit -------------------------------------------------------------------------------------


def audit(session: Session, actor: Principal, action: str, subject: str, detail: str = "") -> None:
    """Record a staff decision in the audit table and publish it, in the caller's transaction."""
    now = utcnow()
    session.add(
        AuditRow(
            at=now,
            actor=actor.subject[:40],
            actor_role=actor.role.value,
            action=action,
            subject=subject[:20],
            detail=detail[:500],
        )
    )
    publish(
        session,
        subject,
        ev.RegistrationStaffAction(
            action=action,
            subject=subject,
            actor=actor.subject,
            actor_role=actor.role.value,
            detail=detail[:500],
            at=timestamp(now),
        ),
    )


# --- the aggregate with what its views need ----------------------------------------------------


@dataclass
class Snapshot:
    """A registration as the API shows it, read in one transaction."""

    row: Candidate
    reg: Registration
    info: dict | None  # the form as typed (numbers decrypted); None before 填写基本信息
    documents: list[DocumentRow]
    locked: bool
    reference: ReferenceData
    now: datetime = field(default_factory=utcnow)


class Store:
    """Reads and writes a registration inside a unit of work."""

    def __init__(self, ctx: ServiceContext, session: Session) -> None:
        self.ctx = ctx
        self.session = session
        self.candidates = CandidateRepository(session)

    def candidate(self, candidate_no: str, for_update: bool = False) -> Candidate:
        row = self.candidates.get(candidate_no, for_update=for_update)
        if row is None:
            raise NotFound("报名信息正在开通，请稍后刷新页面", reason="NO_REGISTRATION", field="candidate_no")
        return row

    def info(self, candidate_no: str) -> dict | None:
        row = self.session.get(BasicInfoRow, candidate_no)
        if row is None:
            return None
        pii = self.ctx.pii
        data = json.loads(row.data_json)
        data["id_number"] = pii.decrypt(row.id_number_enc, "id_number")
        data["phone"] = pii.decrypt(row.phone_enc, "phone")
        data["recipient_phone"] = pii.decrypt(row.recipient_phone_enc, "recipient_phone")
        return data

    def documents(self, candidate_no: str) -> list[DocumentRow]:
        return list(
            self.session.scalars(
                select(DocumentRow)
                .where(DocumentRow.candidate_no == candidate_no)
                .order_by(DocumentRow.uploaded_at, DocumentRow.id)
            )
        )

    def snapshot(self, row: Candidate, reg: Registration | None = None) -> Snapshot:
        return Snapshot(
            row=row,
            reg=reg if reg is not None else self.candidates.load(row),
            info=self.info(row.candidate_no),
            documents=self.documents(row.candidate_no),
            locked=report_locked(self.session, row.point_code),
            reference=load_reference(self.session).data,
        )


def require_active_info(snapshot_info: dict | None) -> dict:
    if snapshot_info is None:
        raise FailedPrecondition("请先完成“填写基本信息”", reason="STEP_NOT_OPEN")
    return snapshot_info
