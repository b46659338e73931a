"""The candidate's 我的报考: notices, 填写基本信息, 信息确认, 放弃报名 (manual 2.8.1-2.8.3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.registration.adapters import BasicInfoRow
from services.registration.domain import (
    NOTICE_MIN_READING,
    NOTICE_ORDER,
    FactStatus,
    FormErrors,
    Notice,
    Registration,
    parse_basic_info,
)
from services.registration.service.calendar import require_phase
from services.registration.service.common import (
    ENCRYPTED_FIELDS,
    Snapshot,
    Store,
    load_reference,
    publish,
    report_locked,
    timestamp,
    today_beijing,
)
from zsb.common.calendar import Phase
from zsb.common.clock import utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument
from zsb.common.principal import require_candidate
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import registration_events_pb2 as ev

DUPLICATE_MESSAGES = {
    "id_number": "该身份证号已被其他考生报名使用，如有疑问请联系报名点",
    "phone": "该手机号已被其他考生使用，请更换手机号",
}


@dataclass(frozen=True)
class NoticeState:
    notice: Notice
    shown_at: datetime | None
    acknowledged_at: datetime | None
    seconds_remaining: int
    open: bool


def notice_states(reg: Registration, now: datetime) -> list[NoticeState]:
    states, open_ = [], True
    for notice in NOTICE_ORDER:
        reading = reg.reading(notice)
        remaining = 0
        if reading.shown_at is not None and reading.acknowledged_at is None:
            left = NOTICE_MIN_READING - (now - reading.shown_at)
            remaining = max(0, int(left.total_seconds() + 0.999))
        elif reading.shown_at is None:
            remaining = int(NOTICE_MIN_READING.total_seconds())
        states.append(NoticeState(notice, reading.shown_at, reading.acknowledged_at, remaining, open_))
        open_ = open_ and reading.acknowledged_at is not None
    return states


def parse_notice(value: str) -> Notice:
    try:
        return Notice(value)
    except ValueError:
        raise InvalidArgument("须知不存在", reason="BAD_NOTICE", field="notice") from None


@dataclass
class SaveResult:
    errors: dict[str, str]
    snapshot: Snapshot | None


class WizardService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def get_mine(self) -> Snapshot:
        me = require_candidate()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            return store.snapshot(store.candidate(me.subject))

    # --- 报考须知 ------------------------------------------------------------------------------

    def show_notice(self, value: str) -> NoticeState:
        """Serve a text: the server records when it was first shown; the countdown runs from then."""
        me, notice = require_candidate(), parse_notice(value)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(me.subject, for_update=True)
            reg = store.candidates.load(row)
            new = reg.show_notice(notice, now)
            if new is not reg:
                store.candidates.save(row, new)
        return next(s for s in notice_states(new, now) if s.notice is notice)

    def acknowledge_notice(self, value: str) -> Snapshot:
        me, notice = require_candidate(), parse_notice(value)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(me.subject, for_update=True)
            reg = store.candidates.load(row).acknowledge_notice(notice, now)
            store.candidates.save(row, reg)
            return store.snapshot(row, reg)

    # --- 填写基本信息 ---------------------------------------------------------------------------

    def save_basic_info(self, raw: Mapping[str, Any]) -> SaveResult:
        """提交并继续: every field error comes back at once; uniqueness is the database's."""
        me = require_candidate()
        try:
            return self._save(me.subject, raw)
        except IntegrityError as exc:
            # A concurrent registration committed the same number between our check and insert:
            # the UNIQUE constraint refused ours and the transaction rolled back whole.
            text = str(exc.orig)
            field = "phone" if "phone_hmac" in text else "id_number" if "id_number_hmac" in text else ""
            if not field:
                raise
            return SaveResult({field: DUPLICATE_MESSAGES[field]}, None)

    def _save(self, candidate_no: str, raw: Mapping[str, Any]) -> SaveResult:
        now = utcnow()
        pii = self.ctx.pii
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(candidate_no, for_update=True)
            reg = store.candidates.load(row)
            reg.check_editable(report_locked(session, row.point_code))
            require_phase(session, Phase.REGISTRATION, now)
            reference = load_reference(session).data
            try:
                info = parse_basic_info(raw, reference, today_beijing(now))
            except FormErrors as exc:
                return SaveResult(exc.errors, None)
            errors: dict[str, str] = {}
            if info.point_code != row.point_code and report_locked(session, info.point_code):
                errors["point_code"] = "该报名点已上报数据，不能选择，请联系报名点"
            hmacs = {
                "id_number": pii.blind_index(info.id_number, "id_number"),
                "phone": pii.blind_index(info.phone, "phone"),
            }
            for field, column in (("id_number", BasicInfoRow.id_number_hmac), ("phone", BasicInfoRow.phone_hmac)):
                taken = session.scalar(
                    select(BasicInfoRow.candidate_no).where(
                        column == hmacs[field], BasicInfoRow.candidate_no != candidate_no
                    )
                )
                if taken:
                    errors[field] = DUPLICATE_MESSAGES[field]
            if errors:
                return SaveResult(errors, None)
            data = info.to_dict()
            plain = {k: v for k, v in data.items() if k not in ENCRYPTED_FIELDS}
            stored = session.get(BasicInfoRow, candidate_no)
            if stored is None:
                stored = BasicInfoRow(candidate_no=candidate_no)
                session.add(stored)
            stored.data_json = json.dumps(plain, ensure_ascii=False)
            stored.id_number_enc = pii.encrypt(info.id_number, "id_number")
            stored.id_number_hmac = hmacs["id_number"]
            stored.phone_enc = pii.encrypt(info.phone, "phone")
            stored.phone_hmac = hmacs["phone"]
            stored.recipient_phone_enc = pii.encrypt(info.recipient_phone, "recipient_phone")
            stored.updated_at = now
            row.name = info.name
            row.point_code, row.city_code = info.point_code, info.city_code
            row.candidate_type = info.candidate_type
            reg = reg.submit_basic_info(now, report_locked=False)  # both locks were checked above
            store.candidates.save(row, reg)
            session.flush()  # the UNIQUE constraints speak here, inside the transaction
            publish(
                session,
                candidate_no,
                ev.RegistrationSubmitted(
                    candidate_no=candidate_no, city_code=row.city_code, point_code=row.point_code, at=timestamp(now)
                ),
            )
            return SaveResult({}, store.snapshot(row, reg))

    # --- 信息确认 -------------------------------------------------------------------------------

    def confirm(self) -> Snapshot:
        """确定: fixes the registration and the materials its review needs."""
        me = require_candidate()
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(me.subject, for_update=True)
            reg = store.candidates.load(row)
            if reg.confirmed_at is not None:
                return store.snapshot(row, reg)
            reg.confirm((), now)  # the step guard, before anything else is read
            require_phase(session, Phase.CONFIRMATION, now)
            raw = store.info(row.candidate_no)
            reference = load_reference(session).data
            try:
                info = parse_basic_info(raw or {}, reference, today_beijing(now))
            except FormErrors as exc:
                # The province changed a list since the form was saved: the form must be edited.
                raise FailedPrecondition(
                    f"报名信息需要修改后才能确认：{next(iter(exc.errors.values()))}", reason="FORM_OUTDATED"
                ) from exc
            required = info.required_documents(reference)
            reg = reg.confirm(required, now)
            store.candidates.save(row, reg)
            publish(
                session,
                row.candidate_no,
                ev.RegistrationConfirmed(
                    candidate_no=row.candidate_no,
                    name=info.name,
                    candidate_category=info.candidate_category,
                    major_category=info.major_category,
                    candidate_type=info.candidate_type,
                    poverty_registered=info.poverty_registered,
                    claims_bonus_points=info.claims_bonus_points,
                    city_code=info.city_code,
                    point_code=info.point_code,
                    music_test_subject=info.music_test_subject,
                    required_documents=sorted(k.value for k in required),
                    at=timestamp(now),
                ),
            )
            if reg.qualification is not None and reg.qualification.automatic:
                publish(
                    session,
                    row.candidate_no,
                    ev.QualificationApproved(candidate_no=row.candidate_no, automatic=True, at=timestamp(now)),
                )
            return store.snapshot(row, reg)

    def abandon(self, action_proof: str) -> Snapshot:
        """放弃报名, confirmed by captcha and SMS code (the proof auth signs); the registration ends."""
        me = require_candidate()
        now = utcnow()
        self.ctx.token_verifier.verify_action(action_proof or "", me.subject, "abandon")
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidate(me.subject, for_update=True)
            reg = store.candidates.load(row)
            if session.get(BasicInfoRow, row.candidate_no) is None:
                reg.abandon(now)  # ABANDONED when it already is
                raise FailedPrecondition("请先完成“填写基本信息”", reason="STEP_NOT_OPEN")
            reg = reg.abandon(now)
            store.candidates.save(row, reg)
            paid = reg.payment.status is FactStatus.SUCCEEDED and row.payment_refunded_at is None
            publish(
                session,
                row.candidate_no,
                ev.RegistrationAbandoned(
                    candidate_no=row.candidate_no,
                    payment_made=paid,
                    city_code=row.city_code,
                    point_code=row.point_code,
                    at=timestamp(now),
                ),
            )
            return store.snapshot(row, reg)
