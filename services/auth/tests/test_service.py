"""The auth service through its gRPC API, on SQLite and MariaDB, with its real relay to Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from services.auth.adapters.tables import CandidateAccount, SecurityEventRow, Session
from services.auth.main import SPEC
from services.auth.service.sessions import ACTIVITY_STEP
from zsb.auth.v1 import auth_pb2 as pb
from zsb.auth.v1 import auth_pb2_grpc
from zsb.common.clock import utcnow
from zsb.common.principal import TokenVerifier
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import outbox
from zsb.common.testing import captcha_answer, sms_codes

NEW_PASSWORD = "Shanxi2026!ok"


@dataclass
class Auth:
    runtime: ServiceRuntime
    stub: auth_pb2_grpc.AuthServiceStub
    bearer: object
    answers: Path
    sms: Path

    def captcha(self) -> tuple[str, str]:
        resp = self.stub.NewCaptcha(pb.NewCaptchaRequest())
        assert resp.png.startswith(b"\x89PNG")
        return resp.captcha_id, captcha_answer(self.answers, resp.captcha_id)

    def login(self, username: str, password: str, kind: int = pb.CANDIDATE, ip: str = "10.0.0.1") -> pb.LoginResponse:
        cid, answer = self.captcha()
        return self.stub.Login(
            pb.LoginRequest(
                kind=kind,
                username=username,
                password=password,
                captcha_id=cid,
                captcha_answer=answer,
                client=pb.ClientInfo(ip=ip),
            )
        )

    def import_candidates(self, *rows: pb.CandidateRow) -> pb.CreateCandidateAccountsResponse:
        return self.stub.CreateCandidateAccounts(
            pb.CreateCandidateAccountsRequest(rows=rows), metadata=self.bearer("point", "p0113", "01", "0113")
        )


@pytest.fixture
def auth(service_settings, database_url: str, bearer) -> Iterator[Auth]:
    settings = service_settings("auth", database_url)
    runtime = ServiceRuntime(SPEC, settings)
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Auth(
            runtime,
            auth_pb2_grpc.AuthServiceStub(channel),
            bearer,
            Path(settings.captcha_answer_sink),
            Path(settings.sms_sink_path),
        )
    runtime.stop(grace=0)


def row(n: str = "21145101130001", **kw: str) -> pb.CandidateRow:
    values = {
        "candidate_no": n,
        "name": "张三",
        "id_number": "140105199001011238",
        "phone": "13812345678",
        "point_code": n[6:10],
    } | kw
    return pb.CandidateRow(**values)


def rpc_error(fn, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        fn(*args, **kwargs)
    return err.value


def new_candidate(auth: Auth, n: str = "21145101130001") -> str:
    resp = auth.import_candidates(row(n))
    assert not resp.errors
    return resp.accounts[0].initial_password


# ---- accounts ----


def test_import_issues_accounts_with_hashed_passwords_and_encrypted_pii(auth: Auth) -> None:
    resp = auth.import_candidates(row(), row("21145101130002"))
    assert not resp.errors and len(resp.accounts) == 2
    with auth.runtime.ctx.db.unit_of_work() as session:
        account = session.get(CandidateAccount, "21145101130001")
        assert account is not None and account.must_change_password
        assert PasswordHasher().verify(account.password_hash, resp.accounts[0].initial_password)
        assert account.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert "140105199001011238" not in account.id_number_enc and "13812345678" not in account.phone_enc
        assert auth.runtime.ctx.pii.decrypt(account.phone_enc, "phone") == "13812345678"
        keys = session.execute(select(outbox.c.key, outbox.c.ce_type)).all()
        assert ("21145101130001", "zsb.events.v1.CandidateAccountCreated") in keys
        assert ("p0113", "zsb.events.v1.SecurityEventRecorded") in keys


def test_import_is_all_or_nothing(auth: Auth) -> None:
    resp = auth.import_candidates(row(), row("21145101130002", phone="12345"), row("bad"))
    assert [(e.row, e.field) for e in resp.errors] == [(2, "phone"), (3, "candidate_no")]
    assert not resp.accounts
    with auth.runtime.ctx.db.unit_of_work() as session:
        assert session.execute(select(CandidateAccount)).first() is None
        assert session.execute(select(outbox)).first() is None


def test_import_outside_the_points_scope_is_refused(auth: Auth) -> None:
    resp = auth.import_candidates(row("21145102050001"))
    assert [(e.row, e.message) for e in resp.errors] == [(1, "该考生不属于本单位管理范围")]


def test_duplicates_in_list_and_in_database_are_reported(auth: Auth) -> None:
    assert [(e.row, e.message) for e in auth.import_candidates(row(), row()).errors] == [(2, "考生号在名单中重复")]
    assert not auth.import_candidates(row()).errors
    assert [e.message for e in auth.import_candidates(row()).errors] == ["考生号已存在"]


def test_account_calls_need_the_right_token(auth: Auth) -> None:
    req = pb.CreateCandidateAccountsRequest(rows=[row()])
    assert rpc_error(auth.stub.CreateCandidateAccounts, req).code() == grpc.StatusCode.UNAUTHENTICATED
    bad = (("authorization", "Bearer not-a-token"),)
    assert rpc_error(auth.stub.CreateCandidateAccounts, req, metadata=bad).code() == grpc.StatusCode.UNAUTHENTICATED
    candidate = auth.bearer("candidate", "21145101130001", "01", "0113")
    assert (
        rpc_error(auth.stub.CreateCandidateAccounts, req, metadata=candidate).code()
        == grpc.StatusCode.PERMISSION_DENIED
    )
    staff_req = pb.CreateStaffAccountRequest(username="city01", name="太原", role="city", city_code="01")
    point = auth.bearer("point", "p0113", "01", "0113")
    assert (
        rpc_error(auth.stub.CreateStaffAccount, staff_req, metadata=point).code() == grpc.StatusCode.PERMISSION_DENIED
    )
    assert auth.stub.CreateStaffAccount(staff_req, metadata=auth.bearer("province", "admin")).initial_password


@pytest.mark.parametrize(
    ("username", "role", "city", "point", "field"),
    [
        ("ab", "city", "01", "", "username"),
        ("Admin!", "city", "01", "", "username"),
        ("city99", "city", "12", "", "city_code"),
        ("pt1", "point", "", "0113", "username"),
        ("pt01", "point", "", "13", "point_code"),
        ("x001", "candidate", "", "", "role"),
        ("x002", "god", "", "", "role"),
        ("rev1", "reviewer", "", "", "city_code"),
    ],
)
def test_bad_staff_accounts_are_refused(
    auth: Auth, username: str, role: str, city: str, point: str, field: str
) -> None:
    req = pb.CreateStaffAccountRequest(username=username, name="某某", role=role, city_code=city, point_code=point)
    err = rpc_error(auth.stub.CreateStaffAccount, req, metadata=auth.bearer("province", "admin"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.trailing_metadata())["x-error-field"] == field


# ---- captcha and login ----


def test_login_with_captcha_issues_a_session_and_token_after_password_change(auth: Auth) -> None:
    password = new_candidate(auth)
    login = auth.login("21145101130001", password)
    assert login.must_change_password and login.principal.role == "candidate"
    v = auth.stub.ValidateSession(pb.ValidateSessionRequest(session_id=login.session_id))
    assert v.must_change_password and v.access_token == ""  # nothing else until the password is changed
    changed = auth.stub.ChangePassword(
        pb.ChangePasswordRequest(session_id=login.session_id, old_password=password, new_password=NEW_PASSWORD)
    )
    assert changed.session_id != login.session_id
    old = rpc_error(auth.stub.ValidateSession, pb.ValidateSessionRequest(session_id=login.session_id))
    assert old.code() == grpc.StatusCode.UNAUTHENTICATED  # the pre-change session id is dead (no fixation)
    v = auth.stub.ValidateSession(pb.ValidateSessionRequest(session_id=changed.session_id))
    assert not v.must_change_password and v.csrf_token
    p = TokenVerifier(auth.runtime.settings.access_token_public_key).verify(v.access_token)
    assert (p.subject, p.role, p.point_code, p.city_code) == ("21145101130001", "candidate", "0113", "01")


def test_wrong_captcha_is_rejected_before_the_password_and_captcha_is_single_use(auth: Auth) -> None:
    password = new_candidate(auth)
    cid, answer = auth.captcha()
    req = pb.LoginRequest(
        kind=pb.CANDIDATE, username="21145101130001", password=password, captcha_id=cid, captcha_answer="WRONG"
    )
    err = rpc_error(auth.stub.Login, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "验证码" in err.details()
    req.captcha_answer = answer  # the right answer after a wrong one: the captcha is already spent
    assert "验证码" in rpc_error(auth.stub.Login, req).details()
    cid, answer = auth.captcha()
    req.captcha_id, req.captcha_answer = cid, answer.lower()  # case-insensitive
    assert auth.stub.Login(req).session_id
    assert "验证码" in rpc_error(auth.stub.Login, req).details()  # replayed after success
    with auth.runtime.ctx.db.unit_of_work() as session:
        assert session.scalar(select(SecurityEventRow.kind).where(SecurityEventRow.kind == "login_failed")) is None


def test_expired_captcha_is_rejected(auth: Auth) -> None:
    password = new_candidate(auth)
    cid, answer = auth.captcha()
    with auth.runtime.ctx.db.unit_of_work() as session:
        session.execute(text("UPDATE captchas SET expires_at = '2000-01-01 00:00:00'"))
    req = pb.LoginRequest(
        kind=pb.CANDIDATE, username="21145101130001", password=password, captcha_id=cid, captcha_answer=answer
    )
    assert "验证码" in rpc_error(auth.stub.Login, req).details()


def test_captchas_made_and_used_at_once_never_fail(auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many candidates at the login page at once: making captchas (which sweeps the expired ones)
    and using them never fail each other. On MariaDB the sweep used to deadlock with the use."""
    from datetime import timedelta
    from threading import Thread

    from services.auth.service import sessions as sessions_module
    from zsb.common.errors import InvalidArgument

    monkeypatch.setattr(sessions_module, "CAPTCHA_TTL", timedelta(milliseconds=300))  # expired ones to sweep
    service = sessions_module.SessionsService(auth.runtime.ctx)
    failures: list[Exception] = []

    def visitor(uses: bool) -> None:
        for _ in range(100):
            try:
                captcha_id, _png, _ttl = service.new_captcha()
                if uses:
                    with pytest.raises(InvalidArgument):
                        service.consume_captcha(captcha_id, "WRONG")
            except Exception as exc:  # noqa: BLE001 - collected and asserted on below
                failures.append(exc)

    threads = [Thread(target=visitor, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_unknown_account_and_wrong_password_look_the_same(auth: Auth) -> None:
    new_candidate(auth)
    wrong = rpc_error(auth.login, "21145101130001", "Wrong1!password")
    unknown = rpc_error(auth.login, "21145101139999", "Wrong1!password")
    assert wrong.code() == unknown.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == unknown.details() == "考生号或密码错误"


def test_five_failures_lock_the_account_with_its_end_time(auth: Auth) -> None:
    password = new_candidate(auth)
    for _ in range(5):
        assert rpc_error(auth.login, "21145101130001", "Wrong1!password").code() == grpc.StatusCode.UNAUTHENTICATED
    locked = rpc_error(auth.login, "21145101130001", password)  # even the right password
    assert locked.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "账号已锁定" in locked.details() and "后再试" in locked.details()
    with auth.runtime.ctx.db.unit_of_work() as session:
        kinds = session.scalars(select(SecurityEventRow.kind)).all()
    assert kinds.count("login_failed") == 5 and "account_locked" in kinds


def test_many_failures_from_one_address_throttle_it(auth: Auth) -> None:
    for i in range(30):
        rpc_error(auth.login, f"2114510113{9000 + i}", "Wrong1!password", ip="10.9.9.9")
    err = rpc_error(auth.login, "21145101139999", "Wrong1!password", ip="10.9.9.9")
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "该网络" in err.details()
    assert (
        rpc_error(auth.login, "21145101139999", "Wrong1!password", ip="10.9.9.8").code()
        == grpc.StatusCode.UNAUTHENTICATED
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("", "x"),
        ("2" * 41, "x"),
        ("21145101130001", ""),
        ("21145101130001", "x" * 65),
        ("' OR 1=1 --", "x"),
        ("<script>", "x"),
    ],
)
def test_bad_login_input_is_a_clean_error(auth: Auth, username: str, password: str) -> None:
    assert rpc_error(auth.login, username, password).code() == grpc.StatusCode.UNAUTHENTICATED


# ---- sessions ----


def logged_in(auth: Auth, n: str = "21145101130001") -> str:
    password = new_candidate(auth, n)
    first = auth.login(n, password)
    return auth.stub.ChangePassword(
        pb.ChangePasswordRequest(session_id=first.session_id, old_password=password, new_password=NEW_PASSWORD)
    ).session_id


def test_logout_ends_the_session(auth: Auth) -> None:
    sid = logged_in(auth)
    auth.stub.Logout(pb.LogoutRequest(session_id=sid))
    assert (
        rpc_error(auth.stub.ValidateSession, pb.ValidateSessionRequest(session_id=sid)).code()
        == grpc.StatusCode.UNAUTHENTICATED
    )


def test_idle_session_times_out(auth: Auth) -> None:
    sid = logged_in(auth)
    # Move the last activity far back: past the manual's 15 minutes.
    with auth.runtime.ctx.db.unit_of_work() as session:
        for s in session.scalars(select(Session)):
            s.last_seen_at = s.last_seen_at.replace(year=2000)
    err = rpc_error(auth.stub.ValidateSession, pb.ValidateSessionRequest(session_id=sid))
    assert "长时间未操作" in err.details()


def test_activity_is_recorded_once_per_step_and_keeps_the_session_alive(auth: Auth) -> None:
    sid = logged_in(auth)

    def last_seen() -> datetime:
        with auth.runtime.ctx.db.unit_of_work() as session:
            return session.scalars(select(Session).where(Session.revoked_at.is_(None))).one().last_seen_at

    def move_back(by: timedelta) -> None:
        with auth.runtime.ctx.db.unit_of_work() as session:
            row = session.scalars(select(Session).where(Session.revoked_at.is_(None))).one()
            row.last_seen_at -= by

    move_back(ACTIVITY_STEP / 2)
    before = last_seen()
    auth.stub.ValidateSession(pb.ValidateSessionRequest(session_id=sid))
    assert last_seen() == before  # within the step: no write
    # 14 minutes idle: still alive, and this request counts as activity again.
    move_back(timedelta(minutes=14))
    view = auth.stub.ValidateSession(pb.ValidateSessionRequest(session_id=sid))
    assert utcnow() - last_seen() < ACTIVITY_STEP
    assert datetime.fromtimestamp(view.idle_expires_at, UTC).replace(tzinfo=None) > utcnow() + timedelta(minutes=14)


def test_other_sessions_are_listed_and_can_be_ended(auth: Auth) -> None:
    sid = logged_in(auth)
    other = auth.login("21145101130001", NEW_PASSWORD, ip="10.0.0.2").session_id
    listed = auth.stub.ListSessions(pb.ListSessionsRequest(session_id=sid)).sessions
    assert len(listed) == 2 and sum(s.current for s in listed) == 1
    assert auth.stub.RevokeSession(pb.RevokeSessionRequest(session_id=sid)).revoked == 1
    assert (
        rpc_error(auth.stub.ValidateSession, pb.ValidateSessionRequest(session_id=other)).code()
        == grpc.StatusCode.UNAUTHENTICATED
    )
    assert auth.stub.ValidateSession(pb.ValidateSessionRequest(session_id=sid)).principal.subject == "21145101130001"


def test_change_password_rejects_wrong_old_and_weak_new(auth: Auth) -> None:
    password = new_candidate(auth)
    sid = auth.login("21145101130001", password).session_id
    err = rpc_error(
        auth.stub.ChangePassword, pb.ChangePasswordRequest(session_id=sid, old_password="x", new_password=NEW_PASSWORD)
    )
    assert err.details() == "原密码错误"
    for weak in ("short1!A", "21145101130001", password):
        err = rpc_error(
            auth.stub.ChangePassword, pb.ChangePasswordRequest(session_id=sid, old_password=password, new_password=weak)
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert auth.stub.ValidateSession(pb.ValidateSessionRequest(session_id=sid)).must_change_password


# ---- forgotten password ----


def reset_request(auth: Auth, **kw: str) -> pb.RequestPasswordResetRequest:
    cid, answer = auth.captcha()
    values = {"candidate_no": "21145101130001", "id_number": "140105199001011238", "phone": "13812345678"} | kw
    return pb.RequestPasswordResetRequest(
        captcha_id=cid, captcha_answer=answer, client=pb.ClientInfo(ip="10.1.1.1"), **values
    )


def test_forgotten_password_with_sms_code(auth: Auth) -> None:
    sid = logged_in(auth)
    resp = auth.stub.RequestPasswordReset(reset_request(auth))
    assert resp.masked_phone == "138****5678" and resp.expires_in_seconds == 300
    (code,) = sms_codes(auth.sms, "13812345678")
    wrong = rpc_error(
        auth.stub.ResetPassword,
        pb.ResetPasswordRequest(
            candidate_no="21145101130001", code="000000" if code != "000000" else "111111", new_password="Another2026!x"
        ),
    )
    assert "验证码错误" in wrong.details()
    auth.stub.ResetPassword(
        pb.ResetPasswordRequest(candidate_no="21145101130001", code=code, new_password="Another2026!x")
    )
    assert (
        rpc_error(auth.stub.ValidateSession, pb.ValidateSessionRequest(session_id=sid)).code()
        == grpc.StatusCode.UNAUTHENTICATED
    )
    assert auth.login("21145101130001", "Another2026!x").session_id
    again = rpc_error(
        auth.stub.ResetPassword,
        pb.ResetPasswordRequest(candidate_no="21145101130001", code=code, new_password="Third2026!xyz"),
    )
    assert "已失效" in again.details()  # single use


def test_reset_rejects_mismatch_expired_codes_and_rate_limits(auth: Auth) -> None:
    new_candidate(auth)
    err = rpc_error(auth.stub.RequestPasswordReset, reset_request(auth, phone="13900000000"))
    assert err.details() == "考生号、身份证号与手机号不匹配"
    assert sms_codes(auth.sms, "13900000000") == []
    auth.stub.RequestPasswordReset(reset_request(auth))
    throttled = rpc_error(auth.stub.RequestPasswordReset, reset_request(auth))  # within the same minute
    assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    (code,) = sms_codes(auth.sms, "13812345678")
    with auth.runtime.ctx.db.unit_of_work() as session:
        session.execute(text("UPDATE sms_codes SET expires_at = '2000-01-01 00:00:00'"))
    err = rpc_error(
        auth.stub.ResetPassword,
        pb.ResetPasswordRequest(candidate_no="21145101130001", code=code, new_password="Another2026!x"),
    )
    assert "已失效" in err.details()


def test_sms_code_guessing_is_limited_to_five_tries(auth: Auth) -> None:
    new_candidate(auth)
    auth.stub.RequestPasswordReset(reset_request(auth))
    (code,) = sms_codes(auth.sms, "13812345678")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        rpc_error(
            auth.stub.ResetPassword,
            pb.ResetPasswordRequest(candidate_no="21145101130001", code=wrong, new_password="Another2026!x"),
        )
    err = rpc_error(
        auth.stub.ResetPassword,
        pb.ResetPasswordRequest(candidate_no="21145101130001", code=code, new_password="Another2026!x"),
    )
    assert "已失效" in err.details()  # the right code no longer works after five wrong ones


# ---- action codes (放弃报名) ----


def send_action(auth: Auth, sid: str, purpose: str = "abandon") -> pb.SendActionCodeResponse:
    cid, answer = auth.captcha()
    return auth.stub.SendActionCode(
        pb.SendActionCodeRequest(session_id=sid, purpose=purpose, captcha_id=cid, captcha_answer=answer)
    )


def test_action_code_confirms_once_and_only_its_purpose(auth: Auth) -> None:
    sid = logged_in(auth)
    resp = send_action(auth, sid)
    assert resp.masked_phone == "138****5678"
    (code,) = sms_codes(auth.sms, "13812345678")
    wrong = rpc_error(
        auth.stub.VerifyActionCode,
        pb.VerifyActionCodeRequest(session_id=sid, purpose="abandon", code=f"{(int(code) + 1) % 10**6:06d}"),
    )
    assert "验证码错误" in wrong.details()
    auth.stub.VerifyActionCode(pb.VerifyActionCodeRequest(session_id=sid, purpose="abandon", code=code))
    again = rpc_error(
        auth.stub.VerifyActionCode, pb.VerifyActionCodeRequest(session_id=sid, purpose="abandon", code=code)
    )
    assert "已失效" in again.details()
    # A password-reset code cannot stand in for an action code, nor the other way round.
    bad_purpose = rpc_error(send_action, auth, sid, "reset")
    assert bad_purpose.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_action_code_needs_a_live_session_and_a_captcha(auth: Auth) -> None:
    sid = logged_in(auth)
    cid, _answer = auth.captcha()
    err = rpc_error(
        auth.stub.SendActionCode,
        pb.SendActionCodeRequest(session_id=sid, purpose="abandon", captcha_id=cid, captcha_answer="NOPE"),
    )
    assert "验证码" in err.details() and sms_codes(auth.sms, "13812345678") == []
    auth.stub.Logout(pb.LogoutRequest(session_id=sid))
    assert rpc_error(send_action, auth, sid).code() == grpc.StatusCode.UNAUTHENTICATED
