"""Captcha, login, session validation and the list of a user's sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from services.auth.adapters.captcha import new_challenge
from services.auth.adapters.tables import CandidateAccount, Captcha, Session, StaffAccount
from services.auth.domain.throttle import IP_LIMIT
from services.auth.service import audit, throttling
from services.auth.service.hashing import hash_password, needs_rehash, verify_password
from zsb.common.clock import beijing_text, utcnow
from zsb.common.errors import InvalidArgument, ResourceExhausted, Unauthenticated
from zsb.common.principal import Principal, Role, TokenSigner
from zsb.common.runtime import ServiceContext

CAPTCHA_TTL = timedelta(minutes=3)
# How finely a session's last activity is recorded: the idle logout may come this much early.
ACTIVITY_STEP = timedelta(seconds=10)
MAX_INPUT = 64
CANDIDATE, STAFF = "candidate", "staff"


@dataclass(frozen=True)
class Client:
    ip: str = ""
    user_agent: str = ""


@dataclass
class Account:
    """What a session needs of an account, candidate or staff."""

    kind: str
    subject: str
    name: str
    role: Role
    city_code: str
    point_code: str
    password_hash: str
    must_change_password: bool
    active: bool


@dataclass
class SessionView:
    principal: Principal
    name: str
    access_token: str
    csrf_token: str
    must_change_password: bool
    idle_expires_at: datetime
    absolute_expires_at: datetime
    public_id: str


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def load_account(db_session, kind: str, subject: str) -> Account | None:
    if kind == CANDIDATE:
        c = db_session.get(CandidateAccount, subject)
        if c is None:
            return None
        return Account(
            CANDIDATE,
            c.candidate_no,
            c.name,
            Role.CANDIDATE,
            c.city_code,
            c.point_code,
            c.password_hash,
            c.must_change_password,
            True,
        )
    s = db_session.get(StaffAccount, subject)
    if s is None:
        return None
    return Account(
        STAFF,
        s.username,
        s.name,
        Role(s.role),
        s.city_code,
        s.point_code,
        s.password_hash,
        s.must_change_password,
        s.active,
    )


def set_password_hash(db_session, kind: str, subject: str, password_hash: str, must_change: bool) -> None:
    table = CandidateAccount if kind == CANDIDATE else StaffAccount
    key = CandidateAccount.candidate_no if kind == CANDIDATE else StaffAccount.username
    db_session.execute(
        update(table).where(key == subject).values(password_hash=password_hash, must_change_password=must_change)
    )


class SessionsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        s = ctx.settings
        self.signer = TokenSigner(s.access_token_signing_key) if s.access_token_signing_key else None
        self.idle = timedelta(seconds=s.session_idle_seconds)
        self.absolute = timedelta(seconds=s.session_absolute_seconds)
        if s.captcha_answer_sink and s.environment == "production":
            raise RuntimeError("CAPTCHA_ANSWER_SINK is a test side channel and is refused in production")
        self.answer_sink = Path(s.captcha_answer_sink) if s.captcha_answer_sink else None

    # ---- captcha ----
    def new_captcha(self) -> tuple[str, bytes, int]:
        answer, png = new_challenge()
        captcha_id = secrets.token_hex(16)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            # Expired captchas are found by a plain read and deleted by primary key alone: a delete
            # that walks the expiry index locks index entry, then row - the opposite order to
            # consume_captcha's delete by id - and deadlocked with it on MariaDB when candidates
            # logged in at the same time (found by tests/reliability). A captcha never gets younger.
            expired = session.scalars(select(Captcha.id).where(Captcha.expires_at < now).limit(500)).all()
            if expired:
                session.execute(delete(Captcha).where(Captcha.id.in_(sorted(expired))))
            session.add(
                Captcha(id=captcha_id, answer_hash=self._captcha_hash(captcha_id, answer), expires_at=now + CAPTCHA_TTL)
            )
        if self.answer_sink is not None:
            with open(self.answer_sink, "a", encoding="utf-8") as f:
                f.write(f"{captcha_id} {answer}\n")
        return captcha_id, png, int(CAPTCHA_TTL.total_seconds())

    def _captcha_hash(self, captcha_id: str, answer: str) -> str:
        return self.ctx.pii.blind_index(answer.strip().upper(), f"captcha:{captcha_id}")

    def consume_captcha(self, captcha_id: str, answer: str) -> None:
        """Check and use up a captcha: right or wrong, it cannot be tried again."""
        wrong = InvalidArgument("验证码错误或已过期，请重新输入", reason="CAPTCHA_INVALID", field="captcha")
        if not captcha_id or not answer or len(captcha_id) > MAX_INPUT or len(answer) > MAX_INPUT:
            raise wrong
        with self.ctx.db.unit_of_work() as session:
            row = session.get(Captcha, captcha_id)
            if row is None:
                raise wrong
            # Deleting with a row count makes the single use atomic across gateways and replicas.
            if session.execute(delete(Captcha).where(Captcha.id == captcha_id)).rowcount != 1:
                raise wrong
            expired = row.expires_at < utcnow()
            matches = secrets.compare_digest(row.answer_hash, self._captcha_hash(captcha_id, answer))
        if expired or not matches:
            raise wrong

    # ---- login ----
    def login(
        self, kind: str, username: str, password: str, captcha_id: str, answer: str, client: Client
    ) -> tuple[str, Account]:
        self.consume_captcha(captcha_id, answer)
        username = (username or "").strip()
        wrong = Unauthenticated(
            "考生号或密码错误" if kind == CANDIDATE else "用户名或密码错误", reason="BAD_CREDENTIALS"
        )
        if not username or len(username) > 40 or not password or len(password) > MAX_INPUT:
            raise wrong
        account_key, ip_key = f"acct:{kind}:{username}", f"ip:{client.ip}"
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            if until := throttling.until(session, "login_failed", ip_key, IP_LIMIT, now):
                raise ResourceExhausted(
                    f"该网络登录失败次数过多，请于{beijing_text(until)}后再试", reason="IP_THROTTLED", field="username"
                )
            if until := throttling.account_until(session, account_key, now):
                raise ResourceExhausted(
                    f"登录失败次数过多，账号已锁定，请于{beijing_text(until)}后再试",
                    reason="ACCOUNT_LOCKED",
                    field="username",
                )
            account = load_account(session, kind, username)
        # Hash outside any transaction: it is the slow part and needs no lock.
        ok = verify_password(account.password_hash if account else None, password)
        if not ok or account is None or not account.active:
            self._record_failure(account_key, ip_key, username, client, now)
            raise wrong
        session_id = secrets.token_urlsafe(32)
        with self.ctx.db.unit_of_work() as session:
            throttling.clear_attempts(session, "login_failed", account_key)
            if needs_rehash(account.password_hash):
                set_password_hash(session, kind, username, hash_password(password), account.must_change_password)
            self._new_session(session, session_id, account, client, now)
            audit.record(session, "login_succeeded", username, ip=client.ip)
        return session_id, account

    def _record_failure(self, account_key: str, ip_key: str, username: str, client: Client, now: datetime) -> None:
        with self.ctx.db.unit_of_work() as session:
            throttling.add_attempt(session, "login_failed", account_key, now)
            throttling.add_attempt(session, "login_failed", ip_key, now)
            audit.record(session, "login_failed", username, ip=client.ip)
            if until := throttling.account_until(session, account_key, now):
                audit.record(session, "account_locked", username, ip=client.ip, detail=f"until {until.isoformat()}Z")

    def _new_session(self, session, session_id: str, account: Account, client: Client, now: datetime) -> None:
        session.add(
            Session(
                id_hash=session_hash(session_id),
                public_id=secrets.token_hex(8),
                kind=account.kind,
                subject=account.subject,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                absolute_expires_at=now + self.absolute,
                ip=client.ip[:45],
                user_agent=client.user_agent[:200],
            )
        )

    # ---- sessions ----
    def _live_session(self, session, session_id: str, now: datetime) -> Session:
        invalid = Unauthenticated("登录已失效，请重新登录", reason="SESSION_INVALID")
        if not session_id or len(session_id) > 128:
            raise invalid
        row = session.get(Session, session_hash(session_id))
        if row is None or row.revoked_at is not None:
            raise invalid
        if now - row.last_seen_at > self.idle:
            row.revoked_at = now
            audit.record(session, "session_idle_timeout", row.subject)
            raise Unauthenticated("长时间未操作，已自动退出，请重新登录", reason="SESSION_IDLE")
        if now > row.absolute_expires_at:
            row.revoked_at = now
            raise Unauthenticated("登录已超时，请重新登录", reason="SESSION_EXPIRED")
        return row

    def validate(self, session_id: str, client: Client) -> SessionView:
        """Check the session, count this request as activity, and issue an access token."""
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = self._live_session(session, session_id, now)
            account = load_account(session, row.kind, row.subject)
            if account is None or not account.active:
                row.revoked_at = now
                raise Unauthenticated("账号已停用", reason="ACCOUNT_DISABLED")
            # Activity is kept to the ACTIVITY_STEP: a page's burst of requests writes the row once.
            if now - row.last_seen_at >= ACTIVITY_STEP:
                row.last_seen_at = now
            idle_expires_at = row.last_seen_at + self.idle
        principal = Principal(account.subject, account.role, account.city_code, account.point_code, row.public_id)
        # A session that must change its password gets no token: it can do nothing else.
        token = "" if account.must_change_password or self.signer is None else self.signer.sign(principal)
        return SessionView(
            principal,
            account.name,
            token,
            row.csrf_token,
            account.must_change_password,
            idle_expires_at,
            row.absolute_expires_at,
            row.public_id,
        )

    def logout(self, session_id: str) -> None:
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = session.get(Session, session_hash(session_id or ""))
            if row is not None and row.revoked_at is None:
                row.revoked_at = now
                audit.record(session, "logout", row.subject)

    def list_sessions(self, session_id: str) -> list[tuple[Session, bool]]:
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            current = self._live_session(session, session_id, now)
            rows = session.scalars(
                select(Session)
                .where(Session.kind == current.kind, Session.subject == current.subject, Session.revoked_at.is_(None))
                .where(Session.absolute_expires_at > now, Session.last_seen_at > now - self.idle)
                .order_by(Session.created_at.desc())
            ).all()
            return [(r, r.id_hash == current.id_hash) for r in rows]

    def revoke(self, session_id: str, public_id: str) -> int:
        """End one other session of the same user, or all others when `public_id` is empty."""
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            current = self._live_session(session, session_id, now)
            query = (
                update(Session)
                .where(Session.kind == current.kind, Session.subject == current.subject)
                .where(Session.revoked_at.is_(None), Session.id_hash != current.id_hash)
            )
            if public_id:
                query = query.where(Session.public_id == public_id)
            count = session.execute(query.values(revoked_at=now)).rowcount
            audit.record(session, "sessions_revoked", current.subject, detail=f"{count} sessions")
            return count
