"""Changing a password (first login, 2.4), resetting a forgotten one with an SMS code (2.5), and
SMS codes that confirm a candidate's action (放弃报名)."""

from __future__ import annotations

import secrets

from sqlalchemy import update

from services.auth.adapters.sms import SmsSender
from services.auth.adapters.tables import CandidateAccount, Session
from services.auth.domain.accounts import CandidateNumber
from services.auth.domain.passwords import check_new_password
from services.auth.service import audit, throttling
from services.auth.service.hashing import hash_password, verify_password
from services.auth.service.sessions import CANDIDATE, Client, SessionsService, load_account, set_password_hash
from services.auth.service.sms_codes import CODE_TTL, PURPOSES, SmsCodes
from zsb.common.clock import utcnow
from zsb.common.errors import InvalidArgument, Unauthenticated
from zsb.common.pii import mask_phone
from zsb.common.runtime import ServiceContext


class PasswordsService:
    def __init__(self, ctx: ServiceContext, sessions: SessionsService, sms: SmsSender) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.codes = SmsCodes(ctx, sms)

    def change(self, session_id: str, old: str, new: str, client: Client) -> str:
        """Change the password of the session's account; returns the id of a new session.

        The old session ends: a privilege change always gets a fresh session id.
        """
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = self.sessions._live_session(session, session_id, now)
            account = load_account(session, row.kind, row.subject)
        if account is None:
            raise Unauthenticated("登录已失效，请重新登录", reason="SESSION_INVALID")
        if len(old or "") > 64 or not verify_password(account.password_hash, old or ""):
            raise InvalidArgument("原密码错误", reason="BAD_OLD_PASSWORD", field="old_password")
        check_new_password(new or "", username=account.subject, old=old)
        new_session_id = secrets.token_urlsafe(32)
        with self.ctx.db.unit_of_work() as session:
            set_password_hash(session, row.kind, row.subject, hash_password(new), must_change=False)
            session.execute(update(Session).where(Session.id_hash == row.id_hash).values(revoked_at=now))
            self.sessions._new_session(session, new_session_id, account, client, now)
            audit.record(session, "password_changed", account.subject, ip=client.ip)
        return new_session_id

    def request_reset(
        self, candidate_no: str, id_number: str, phone: str, captcha_id: str, answer: str, client: Client
    ) -> tuple[str, int]:
        """Send a 6-digit code to the phone on record when 考生号, ID number and phone all match."""
        self.sessions.consume_captcha(captcha_id, answer)
        number = CandidateNumber.parse(candidate_no)
        id_number, phone = (id_number or "").strip().upper()[:32], (phone or "").strip()[:32]
        if not id_number:
            raise InvalidArgument("请输入身份证号", field="id_number")
        if not phone:
            raise InvalidArgument("请输入手机号", field="phone")
        pii = self.ctx.pii
        phone_key, ip_key = self.codes.phone_key(phone), f"ip:{client.ip}"
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            self.codes.check_send_limits(session, phone_key, ip_key, now)
            # Every request counts against the address, so guessing combinations is throttled too.
            throttling.add_attempt(session, "sms_sent", ip_key, now)
            account = session.get(CandidateAccount, number.value)
            if (
                account is None
                or account.id_number_hmac != pii.blind_index(id_number, "id_number")
                or account.phone_hmac != pii.blind_index(phone, "phone")
            ):
                audit.record(session, "password_reset_mismatch", number.value, ip=client.ip)
                code = None
            else:
                code = self.codes.issue(session, number.value, "reset", phone_key, now)
                audit.record(session, "password_reset_requested", number.value, ip=client.ip)
        if code is None:
            raise InvalidArgument("考生号、身份证号与手机号不匹配", reason="IDENTITY_MISMATCH", field="candidate_no")
        self.codes.send(phone, code)
        return mask_phone(phone), int(CODE_TTL.total_seconds())

    def send_action_code(
        self, session_id: str, purpose: str, captcha_id: str, answer: str, client: Client
    ) -> tuple[str, int]:
        """An SMS code to the phone on record of the session's candidate, confirming one action."""
        if purpose not in PURPOSES - {"reset"}:
            raise InvalidArgument("不支持的操作", field="purpose")
        self.sessions.consume_captcha(captcha_id, answer)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = self.sessions._live_session(session, session_id, now)
            account = session.get(CandidateAccount, row.subject) if row.kind == CANDIDATE else None
            if account is None:
                raise InvalidArgument("该操作仅适用于考生", field="purpose")
            phone = self.ctx.pii.decrypt(account.phone_enc, "phone")
            phone_key, ip_key = self.codes.phone_key(phone), f"ip:{client.ip}"
            self.codes.check_send_limits(session, phone_key, ip_key, now)
            throttling.add_attempt(session, "sms_sent", ip_key, now)
            code = self.codes.issue(session, account.candidate_no, purpose, phone_key, now)
            audit.record(session, f"{purpose}_code_sent", account.candidate_no, ip=client.ip)
        self.codes.send(phone, code)
        return mask_phone(phone), int(CODE_TTL.total_seconds())

    def verify_action_code(self, session_id: str, purpose: str, code: str, client: Client) -> str:
        """Check the code; returns a signed proof of the confirmed action."""
        if purpose not in PURPOSES - {"reset"}:
            raise InvalidArgument("不支持的操作", field="purpose")
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = self.sessions._live_session(session, session_id, now)
            failure = self.codes.consume(session, row.subject, purpose, code, now)
            audit.record(session, f"{purpose}_code_{'wrong' if failure else 'verified'}", row.subject, ip=client.ip)
        if failure is not None:
            raise failure
        if self.sessions.signer is None:
            raise RuntimeError("ACCESS_TOKEN_SIGNING_KEY is not set")
        return self.sessions.signer.sign_action(row.subject, purpose)

    def reset(self, candidate_no: str, code: str, new: str, client: Client) -> None:
        number = CandidateNumber.parse(candidate_no)
        check_new_password(new or "", username=number.value)  # before the code is spent
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            failure = self.codes.consume(session, number.value, "reset", code, now)
            if failure is not None:
                audit.record(session, "password_reset_bad_code", number.value, ip=client.ip)
            else:
                set_password_hash(session, CANDIDATE, number.value, hash_password(new), must_change=False)
                session.execute(
                    update(Session)
                    .where(Session.kind == CANDIDATE, Session.subject == number.value, Session.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                throttling.clear_attempts(session, "login_failed", f"acct:{CANDIDATE}:{number.value}")
                audit.record(session, "password_reset", number.value, ip=client.ip)
        if failure is not None:
            raise failure
