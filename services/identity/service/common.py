"""What the use cases share: dependencies, eligibility, events, the staff audit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.identity.adapters import AuditRow, CandidateRow, Repository
from services.identity.domain.case import CasePolicy
from services.identity.service.engine import EngineHolder
from services.identity.settings import IdentitySettings
from zsb.common.db import Database
from zsb.common.errors import FailedPrecondition, InvalidArgument
from zsb.common.objectstore import ObjectStore
from zsb.common.outbox import add_event
from zsb.common.principal import Principal
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import identity_events_pb2 as ev

SERVICE = "identity"
CANDIDATE_NO_MAX = 14
CHUNK_BYTES = 2 * 1024 * 1024


@dataclass
class Deps:
    ctx: ServiceContext
    settings: IdentitySettings
    engines: EngineHolder
    clock: Callable[[], datetime]
    # Set when a verification is queued, so that a worker of this process starts at once.
    wake: threading.Event = field(default_factory=threading.Event)

    @property
    def db(self) -> Database:
        return self.ctx.db

    @cached_property
    def policy(self) -> CasePolicy:
        return self.settings.policy()

    @cached_property
    def photos(self) -> ObjectStore:
        """The private bucket `zsb-identity-photos`."""
        return self.ctx.object_store("photos")

    def repo(self, session: Session) -> Repository:
        return Repository(session, self.db.is_mysql)


def timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def publish(session: Session, key: str, message: Message) -> None:
    add_event(session, SERVICE, key, message)


def check_candidate_no(candidate_no: str) -> str:
    value = (candidate_no or "").strip()
    if not value or len(value) > CANDIDATE_NO_MAX or not value.isascii() or not value.isalnum():
        raise InvalidArgument("考生号不正确", reason="BAD_CANDIDATE_NO", field="candidate_no")
    return value


def ineligibility(candidate: CandidateRow | None) -> str:
    """Why the candidate cannot verify their identity yet ('' when they can)."""
    if candidate is None or candidate.confirmed_at is None:
        return "请先在“我的报考”中完成“信息确认”；如刚刚确认，请稍候刷新本页"
    if candidate.abandoned_at is not None:
        return "您已放弃报名，不能进行身份认证"
    return ""


def require_eligible(candidate: CandidateRow | None) -> CandidateRow:
    message = ineligibility(candidate)
    if message:
        reason = "ABANDONED" if candidate is not None and candidate.abandoned_at else "NOT_CONFIRMED"
        raise FailedPrecondition(message, reason=reason)
    assert candidate is not None
    return candidate


def audit(session: Session, actor: str, actor_role: str, action: str, subject: str, detail: str, at: datetime) -> None:
    """A row of the staff audit, published as IdentityStaffAction, in the caller's transaction."""
    session.add(
        AuditRow(
            at=at,
            actor=actor[:40],
            actor_role=actor_role[:20],
            action=action,
            subject=subject[:20],
            detail=detail[:500],
        )
    )
    publish(
        session,
        subject[:20],
        ev.IdentityStaffAction(
            action=action,
            subject=subject[:20],
            actor=actor[:40],
            actor_role=actor_role[:20],
            detail=detail[:500],
            at=timestamp(at),
        ),
    )


def audit_staff(session: Session, p: Principal, action: str, subject: str, detail: str, at: datetime) -> None:
    audit(session, p.subject, p.role.value, action, subject, detail, at)
