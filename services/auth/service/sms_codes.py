"""Six-digit SMS codes: issued with throttling, stored only as keyed hashes, single use, few tries.

A code has a purpose ('reset' for a forgotten password, 'abandon' for 放弃报名 …), so a code
sent for one action can never confirm another.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.auth.adapters.sms import SmsSender
from services.auth.adapters.tables import SmsCode
from services.auth.domain.throttle import SMS_CODE_MAX_TRIES, SMS_IP_HOUR, SMS_PHONE_HOUR, SMS_PHONE_MINUTE
from services.auth.service import throttling
from zsb.common.clock import beijing_text
from zsb.common.errors import InvalidArgument, ResourceExhausted
from zsb.common.runtime import ServiceContext

CODE_TTL = timedelta(minutes=5)
PURPOSES = frozenset({"reset", "abandon"})


class SmsCodes:
    def __init__(self, ctx: ServiceContext, sms: SmsSender) -> None:
        self.ctx = ctx
        self.sms = sms

    def phone_key(self, phone: str) -> str:
        return f"phone:{self.ctx.pii.blind_index(phone, 'phone')}"

    def check_send_limits(self, session: Session, phone_key: str, ip_key: str, now: datetime) -> None:
        for key, limit in ((phone_key, SMS_PHONE_MINUTE), (phone_key, SMS_PHONE_HOUR), (ip_key, SMS_IP_HOUR)):
            if until := throttling.until(session, "sms_sent", key, limit, now):
                raise ResourceExhausted(f"获取验证码过于频繁，请于{beijing_text(until)}后再试", reason="SMS_THROTTLED")

    def issue(self, session: Session, candidate_no: str, purpose: str, phone_key: str, now: datetime) -> str:
        """Store a new code (ending earlier unused ones of that purpose); returns it for sending."""
        code = f"{secrets.randbelow(10**6):06d}"
        throttling.add_attempt(session, "sms_sent", phone_key, now)
        session.execute(
            update(SmsCode)
            .where(SmsCode.candidate_no == candidate_no, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
            .values(used_at=now)
        )
        session.add(
            SmsCode(
                candidate_no=candidate_no,
                purpose=purpose,
                code_hash=self._hash(candidate_no, purpose, code),
                expires_at=now + CODE_TTL,
                tries=0,
                created_at=now,
            )
        )
        return code

    def send(self, phone: str, code: str) -> None:
        self.sms.send_code(phone, code, int(CODE_TTL.total_seconds() // 60))

    def consume(
        self, session: Session, candidate_no: str, purpose: str, code: str, now: datetime
    ) -> InvalidArgument | None:
        """Check the newest unused code; None when right (it is then used up), else the error to raise.

        The caller commits either way, so that a wrong try is counted.
        """
        row = session.scalars(
            select(SmsCode)
            .where(SmsCode.candidate_no == candidate_no, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
            .order_by(SmsCode.id.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if row is None or row.expires_at < now or row.tries >= SMS_CODE_MAX_TRIES:
            if row is not None:
                row.used_at = now
            return InvalidArgument("验证码已失效，请重新获取", reason="CODE_EXPIRED", field="code")
        row.tries += 1
        if not secrets.compare_digest(row.code_hash, self._hash(candidate_no, purpose, (code or "").strip()[:12])):
            left = SMS_CODE_MAX_TRIES - row.tries
            message = f"验证码错误，还可尝试{left}次" if left else "验证码错误，请重新获取"
            return InvalidArgument(message, reason="CODE_WRONG", field="code")
        row.used_at = now
        return None

    def _hash(self, candidate_no: str, purpose: str, code: str) -> str:
        return self.ctx.pii.blind_index(code, f"sms:{purpose}:{candidate_no}")
