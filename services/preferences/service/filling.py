"""The candidate's side: what they may fill, the form's choices, 确认提交, and the history.

A submission is saved whole (one version row and its items) or not at all. One candidate's
submissions are serialised by a lock on their projection row, so two tabs submitting at once
leave two versions in order and the last one current; the form's idempotency key makes a
retried submission return the version it already saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Row, Select, insert, select
from sqlalchemy.exc import IntegrityError
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
    VersionRow,
)
from services.preferences.domain.batches import BY_CODE, BatchDef, WindowState
from services.preferences.domain.eligibility import Facts
from services.preferences.domain.filling import Choice, Offer, SlotProblem, check_choices, digest
from services.preferences.service.common import (
    BatchView,
    VersionView,
    load_batch,
    load_batches,
    load_version,
    load_versions,
    publish,
    timestamp,
)
from services.preferences.service.eligibility import facts
from zsb.common.clock import utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from zsb.common.principal import Principal, Role, current_principal, require_candidate, require_scope
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import preferences_events_pb2 as ev

_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_CHOICES = 16


@dataclass(frozen=True)
class BatchStatus:
    batch: BatchView
    allowed: bool
    reason: str
    current: VersionView | None
    withdrawn: bool


@dataclass(frozen=True)
class InstitutionOffer:
    code: str
    name: str
    majors: list[Offer] = field(default_factory=list)


@dataclass(frozen=True)
class FormView:
    status: BatchStatus
    editable: bool
    read_only_reason: str
    institutions: list[InstitutionOffer]


@dataclass(frozen=True)
class SubmitResult:
    problems: list[SlotProblem]
    version: VersionView | None = None
    replayed: bool = False


def _batch_def(code: str) -> BatchDef:
    found = BY_CODE.get((code or "").strip())
    if found is None:
        raise NotFound("批次不存在", reason="NO_BATCH", field="batch_code")
    return found


def _status(session: Session, f: Facts, candidate_no: str, row: BatchRow, view: BatchView) -> BatchStatus:
    head = session.get(HeadRow, (candidate_no, row.code))
    current = load_version(session, head.current_version_id, True) if head is not None else None
    reason = f.refusal(_batch_def(row.code))
    return BatchStatus(view, not reason, reason, current, head is not None and head.withdrawn_at is not None)


def _read_only_reason(status: BatchStatus) -> str:
    if not status.allowed:
        return status.reason
    if status.batch.state is not WindowState.OPEN:
        return status.batch.closed_reason
    return ""


class FillingService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def status(self) -> tuple[Facts, list[BatchStatus]]:
        me = require_candidate()
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            f = facts(session, session.get(CandidateRow, me.subject))
            return f, [_status(session, f, me.subject, r, BatchView.of(r, now)) for r in load_batches(session)]

    def form(self, batch_code: str) -> FormView:
        me = require_candidate()
        _batch_def(batch_code)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = load_batch(session, batch_code)
            f = facts(session, session.get(CandidateRow, me.subject))
            status = _status(session, f, me.subject, row, BatchView.of(row, now))
            reason = _read_only_reason(status)
            institutions = _offers_for_category(session, row.code, f.major_category) if not reason else []
            return FormView(status, not reason, reason, institutions)

    def submit(self, batch_code: str, idempotency_key: str, choices: list[Choice]) -> SubmitResult:
        me = require_candidate()
        batch = _batch_def(batch_code)
        key = (idempotency_key or "").strip()
        if not _KEY.match(key):
            raise InvalidArgument("提交标识不正确，请刷新页面后重新填报", reason="BAD_KEY", field="idempotency_key")
        if len(choices) > MAX_CHOICES:
            raise InvalidArgument("志愿数量过多", reason="TOO_MANY", field="choices")
        try:
            return self._submit(me, batch, key, choices)
        except IntegrityError:
            # Only a concurrent twin with the same key gets here (the row lock orders the rest):
            # its transaction has committed, so this one now finds and returns it.
            return self._submit(me, batch, key, choices)

    def _submit(self, me: Principal, batch: BatchDef, key: str, choices: list[Choice]) -> SubmitResult:
        now = utcnow()
        fingerprint = digest(batch.code, choices)
        with self.ctx.db.unit_of_work() as session:
            # Shared lock: an import cannot replace the plan while this submission checks against it.
            session.get(PlanStateRow, 1, with_for_update={"read": True})
            candidate = session.get(CandidateRow, me.subject, with_for_update=True)
            prior = session.scalar(
                select(VersionRow).where(VersionRow.candidate_no == me.subject, VersionRow.idempotency_key == key)
            )
            if prior is not None:
                if prior.digest != fingerprint or prior.batch_code != batch.code:
                    raise FailedPrecondition(
                        "该页面的志愿已经提交过，本次修改未保存；请核对下方志愿后再次点击“确认提交”",
                        reason="KEY_REUSED",
                    )
                head = session.get(HeadRow, (me.subject, batch.code))
                current = head is not None and head.current_version_id == prior.id
                return SubmitResult([], load_version(session, prior.id, current), replayed=True)
            f = facts(session, candidate)
            refusal = f.refusal(batch)
            if refusal or candidate is None:
                raise FailedPrecondition(refusal, reason="NOT_ELIGIBLE")
            row = load_batch(session, batch.code)
            closed = BatchView.of(row, now).closed_reason
            if closed:
                raise FailedPrecondition(closed, reason="WINDOW_CLOSED")
            wanted = {(c.institution_code or c.major_institution_code).strip().upper()[:10] for c in choices}
            items, problems = check_choices(choices, _offers_of(session, batch.code, wanted), f.major_category)
            if problems:
                return SubmitResult(problems)
            head = session.get(HeadRow, (me.subject, batch.code))
            number = head.number + 1 if head is not None else 1
            version = VersionRow(
                candidate_no=me.subject,
                batch_code=batch.code,
                number=number,
                submitted_at=now,
                idempotency_key=key,
                digest=fingerprint,
            )
            session.add(version)
            session.flush()
            session.execute(
                insert(ItemRow),
                [
                    {
                        "version_id": version.id,
                        "slot": i.slot,
                        "institution_code": i.institution_code,
                        "institution_name": i.institution_name,
                        "major_code": i.major_code,
                        "major_name": i.major_name,
                    }
                    for i in items
                ],
            )
            if head is None:
                session.add(
                    HeadRow(
                        candidate_no=me.subject, batch_code=batch.code, current_version_id=version.id, number=number
                    )
                )
            else:
                head.current_version_id, head.number = version.id, number
            publish(
                session,
                me.subject,
                ev.PreferencesSubmitted(
                    candidate_no=me.subject,
                    batch_code=batch.code,
                    version=number,
                    items=[
                        ev.PreferenceItem(
                            slot=i.slot,
                            institution_code=i.institution_code,
                            institution_name=i.institution_name,
                            major_code=i.major_code,
                            major_name=i.major_name,
                        )
                        for i in items
                    ],
                    major_category=candidate.major_category,
                    poverty_registered=candidate.poverty_registered,
                    city_code=candidate.city_code,
                    point_code=candidate.point_code,
                    submitted_at=timestamp(now),
                ),
            )
            return SubmitResult([], VersionView(version.id, number, now, True, items))

    def versions(self, batch_code: str, candidate_no: str) -> tuple[BatchStatus, list[VersionView]]:
        """Every submitted version of a batch, newest first: the candidate's own, or for staff in scope."""
        p = current_principal()
        _batch_def(batch_code)
        asked = (candidate_no or "").strip()[:14]
        if p.role == Role.CANDIDATE:
            if asked and asked != p.subject:
                raise PermissionDenied("无权查看其他考生的志愿", reason="NOT_THIS_CANDIDATE")
            asked = p.subject
        elif not asked:
            raise InvalidArgument("请指定考生号", reason="NO_CANDIDATE", field="candidate_no")
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            candidate = session.get(CandidateRow, asked)
            if p.role != Role.CANDIDATE:
                if candidate is None:
                    raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
                require_scope(candidate.city_code, candidate.point_code)
            row = load_batch(session, batch_code)
            status = _status(session, facts(session, candidate), asked, row, BatchView.of(row, now))
            current_id = status.current.id if status.current else None
            return status, load_versions(session, asked, row.code, current_id)


def _offers_of(session: Session, batch_code: str, institutions: set[str]) -> dict[tuple[str, str], Offer]:
    """The batch's plan lines of the chosen institutions, every category (to name the right rule)."""
    rows = session.execute(
        _offer_query().where(PlanLineRow.batch_code == batch_code, PlanLineRow.institution_code.in_(institutions))
    ).all()
    return {(o.institution_code, o.major_code): o for o in map(_offer, rows)}


def _offers_for_category(session: Session, batch_code: str, category: str) -> list[InstitutionOffer]:
    rows = session.execute(
        _offer_query()
        .where(PlanLineRow.batch_code == batch_code, PlanLineRow.category == category)
        .order_by(PlanLineRow.institution_code, PlanLineRow.major_code)
    ).all()
    out: list[InstitutionOffer] = []
    for offer in map(_offer, rows):
        if not out or out[-1].code != offer.institution_code:
            out.append(InstitutionOffer(offer.institution_code, offer.institution_name))
        out[-1].majors.append(offer)
    return out


def _offer_query() -> Select[tuple[PlanLineRow, str, str]]:
    return (
        select(PlanLineRow, InstitutionRow.name, MajorRow.name)
        .join(InstitutionRow, InstitutionRow.code == PlanLineRow.institution_code)
        .join(
            MajorRow,
            (MajorRow.institution_code == PlanLineRow.institution_code) & (MajorRow.code == PlanLineRow.major_code),
        )
    )


def _offer(row: Row[tuple[PlanLineRow, str, str]]) -> Offer:
    line, institution_name, major_name = row
    return Offer(line.institution_code, institution_name, line.major_code, major_name, line.category, line.places)
