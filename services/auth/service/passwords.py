"""Changing a password (first login, 2.4) and resetting a forgotten one with an SMS code (2.5)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from services.auth.adapters.sms import SmsSender
from services.auth.adapters.tables import CandidateAccount, Session, SmsCode
from services.auth.domain.accounts import CandidateNumber
from services.auth.domain.passwords import check_new_password
from services.auth.domain.throttle import SMS_CODE_MAX_TRIES, SMS_IP_HOUR, SMS_PHONE_HOUR, SMS_PHONE_MINUTE
from services.auth.service import audit, throttling
from services.auth.service.hashing import hash_password, verify_password
from services.auth.service.sessions import CANDIDATE, Client, SessionsService, load_account, set_password_hash
from zsb.common.clock import beijing_text, utcnow
from zsb.common.errors import InvalidArgument, ResourceExhausted, Unauthenticated
from zsb.common.pii import mask_phone
from zsb.common.runtime import ServiceContext

CODE_TTL = timedelta(minutes=5)


class PasswordsService:
    def __init__(self, ctx: ServiceContext, sessions: SessionsService, sms: SmsSender) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.sms = sms

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
        phone_key, ip_key = f"phone:{pii.blind_index(phone, 'phone')}", f"ip:{client.ip}"
        now = utcnow()
        code = f"{secrets.randbelow(10**6):06d}"
        with self.ctx.db.unit_of_work() as session:
            for key, limit in ((phone_key, SMS_PHONE_MINUTE), (phone_key, SMS_PHONE_HOUR), (ip_key, SMS_IP_HOUR)):
                if until := throttling.until(session, "sms_sent", key, limit, now):
                    raise ResourceExhausted(
                        f"获取验证码过于频繁，请于{beijing_text(until)}后再试", reason="SMS_THROTTLED"
                    )
            # Every request counts against the address, so guessing combinations is throttled too.
            throttling.add_attempt(session, "sms_sent", ip_key, now)
            account = session.get(CandidateAccount, number.value)
            if (
                account is None
                or account.id_number_hmac != pii.blind_index(id_number, "id_number")
                or account.phone_hmac != pii.blind_index(phone, "phone")
            ):
                audit.record(session, "password_reset_mismatch", number.value, ip=client.ip)
                mismatch = InvalidArgument(
                    "考生号、身份证号与手机号不匹配", reason="IDENTITY_MISMATCH", field="candidate_no"
                )
            else:
                mismatch = None
                throttling.add_attempt(session, "sms_sent", phone_key, now)
                session.execute(
                    update(SmsCode)
                    .where(SmsCode.candidate_no == number.value, SmsCode.used_at.is_(None))
                    .values(used_at=now)
                )
                session.add(
                    SmsCode(
                        candidate_no=number.value,
                        code_hash=self._code_hash(number.value, code),
                        expires_at=now + CODE_TTL,
                        tries=0,
                        created_at=now,
                    )
                )
                audit.record(session, "password_reset_requested", number.value, ip=client.ip)
        if mismatch is not None:
            raise mismatch
        self.sms.send_code(phone, code, int(CODE_TTL.total_seconds() // 60))
        return mask_phone(phone), int(CODE_TTL.total_seconds())

    def _code_hash(self, candidate_no: str, code: str) -> str:
        return self.ctx.pii.blind_index(code, f"sms:{candidate_no}")

    def reset(self, candidate_no: str, code: str, new: str, client: Client) -> None:
        number = CandidateNumber.parse(candidate_no)
        check_new_password(new or "", username=number.value)  # before the code is spent
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = session.scalars(
                select(SmsCode)
                .where(SmsCode.candidate_no == number.value, SmsCode.used_at.is_(None))
                .order_by(SmsCode.id.desc())
                .limit(1)
                .with_for_update()
            ).first()
            if row is None or row.expires_at < now or row.tries >= SMS_CODE_MAX_TRIES:
                if row is not None:
                    row.used_at = now
                failure: Exception | None = InvalidArgument(
                    "验证码已失效，请重新获取", reason="CODE_EXPIRED", field="code"
                )
            else:
                row.tries += 1
                if not secrets.compare_digest(row.code_hash, self._code_hash(number.value, (code or "").strip()[:12])):
                    audit.record(session, "password_reset_bad_code", number.value, ip=client.ip)
                    left = SMS_CODE_MAX_TRIES - row.tries
                    failure = InvalidArgument(
                        f"验证码错误，还可尝试{left}次" if left else "验证码错误，请重新获取",
                        reason="CODE_WRONG",
                        field="code",
                    )
                else:
                    failure = None
                    row.used_at = now
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
