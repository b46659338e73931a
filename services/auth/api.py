"""gRPC servicer of the auth service: messages in, use cases called, messages out."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from services.auth.adapters.sms import make_sms_sender
from services.auth.adapters.tables import SecurityEventRow
from services.auth.domain.audit import AuditQuery
from services.auth.service.accounts import AccountsService
from services.auth.service.audit_log import AuditLogService
from services.auth.service.passwords import PasswordsService
from services.auth.service.sessions import CANDIDATE, STAFF, Client, SessionsService
from zsb.auth.v1 import auth_pb2 as pb
from zsb.auth.v1 import auth_pb2_grpc
from zsb.common.clock import unix
from zsb.common.errors import InvalidArgument
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.principal import Role, require_staff
from zsb.common.runtime import ServiceContext

_SERVICE = pb.DESCRIPTOR.services_by_name["AuthService"]
# Reached before there is a token: anonymous, or authenticated by the session id they carry.
PUBLIC_METHODS = frozenset(
    f"/{_SERVICE.full_name}/{m}"
    for m in (
        "NewCaptcha",
        "Login",
        "ValidateSession",
        "Logout",
        "ListSessions",
        "RevokeSession",
        "ChangePassword",
        "RequestPasswordReset",
        "ResetPassword",
        "SendActionCode",
        "VerifyActionCode",
    )
)
_KINDS = {pb.CANDIDATE: CANDIDATE, pb.STAFF: STAFF}


def _client(c: pb.ClientInfo) -> Client:
    return Client(ip=c.ip[:45], user_agent=c.user_agent[:200])


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.sessions = SessionsService(ctx)
        self.passwords = PasswordsService(ctx, self.sessions, make_sms_sender(ctx.settings))
        self.accounts = AccountsService(ctx)
        self.audit_log = AuditLogService(ctx)

    def NewCaptcha(self, request: pb.NewCaptchaRequest, context: grpc.ServicerContext) -> pb.NewCaptchaResponse:
        captcha_id, png, ttl = self.sessions.new_captcha()
        return pb.NewCaptchaResponse(captcha_id=captcha_id, png=png, expires_in_seconds=ttl)

    def Login(self, request: pb.LoginRequest, context: grpc.ServicerContext) -> pb.LoginResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise InvalidArgument("账号类型不正确", field="kind")
        session_id, account = self.sessions.login(
            kind,
            request.username,
            request.password,
            request.captcha_id,
            request.captcha_answer,
            _client(request.client),
        )
        return pb.LoginResponse(
            session_id=session_id,
            must_change_password=account.must_change_password,
            principal=pb.SessionPrincipal(
                subject=account.subject,
                role=account.role.value,
                name=account.name,
                city_code=account.city_code,
                point_code=account.point_code,
            ),
        )

    def ValidateSession(
        self, request: pb.ValidateSessionRequest, context: grpc.ServicerContext
    ) -> pb.ValidateSessionResponse:
        v = self.sessions.validate(request.session_id, _client(request.client))
        p = v.principal
        return pb.ValidateSessionResponse(
            principal=pb.SessionPrincipal(
                subject=p.subject, role=p.role.value, name=v.name, city_code=p.city_code, point_code=p.point_code
            ),
            access_token=v.access_token,
            csrf_token=v.csrf_token,
            must_change_password=v.must_change_password,
            idle_expires_at=unix(v.idle_expires_at),
            absolute_expires_at=unix(v.absolute_expires_at),
            public_id=v.public_id,
        )

    def Logout(self, request: pb.LogoutRequest, context: grpc.ServicerContext) -> pb.LogoutResponse:
        self.sessions.logout(request.session_id)
        return pb.LogoutResponse()

    def ListSessions(self, request: pb.ListSessionsRequest, context: grpc.ServicerContext) -> pb.ListSessionsResponse:
        rows = self.sessions.list_sessions(request.session_id)
        return pb.ListSessionsResponse(
            sessions=[
                pb.SessionInfo(
                    public_id=r.public_id,
                    created_at=unix(r.created_at),
                    last_seen_at=unix(r.last_seen_at),
                    ip=r.ip,
                    user_agent=r.user_agent,
                    current=current,
                )
                for r, current in rows
            ]
        )

    def RevokeSession(
        self, request: pb.RevokeSessionRequest, context: grpc.ServicerContext
    ) -> pb.RevokeSessionResponse:
        return pb.RevokeSessionResponse(revoked=self.sessions.revoke(request.session_id, request.public_id[:16]))

    def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: grpc.ServicerContext
    ) -> pb.ChangePasswordResponse:
        new_id = self.passwords.change(
            request.session_id, request.old_password, request.new_password, _client(request.client)
        )
        return pb.ChangePasswordResponse(session_id=new_id)

    def RequestPasswordReset(
        self, request: pb.RequestPasswordResetRequest, context: grpc.ServicerContext
    ) -> pb.RequestPasswordResetResponse:
        masked, ttl = self.passwords.request_reset(
            request.candidate_no,
            request.id_number,
            request.phone,
            request.captcha_id,
            request.captcha_answer,
            _client(request.client),
        )
        return pb.RequestPasswordResetResponse(masked_phone=masked, expires_in_seconds=ttl)

    def ResetPassword(
        self, request: pb.ResetPasswordRequest, context: grpc.ServicerContext
    ) -> pb.ResetPasswordResponse:
        self.passwords.reset(request.candidate_no, request.code, request.new_password, _client(request.client))
        return pb.ResetPasswordResponse()

    def SendActionCode(
        self, request: pb.SendActionCodeRequest, context: grpc.ServicerContext
    ) -> pb.SendActionCodeResponse:
        masked, ttl = self.passwords.send_action_code(
            request.session_id, request.purpose, request.captcha_id, request.captcha_answer, _client(request.client)
        )
        return pb.SendActionCodeResponse(masked_phone=masked, expires_in_seconds=ttl)

    def VerifyActionCode(
        self, request: pb.VerifyActionCodeRequest, context: grpc.ServicerContext
    ) -> pb.VerifyActionCodeResponse:
        proof = self.passwords.verify_action_code(
            request.session_id, request.purpose, request.code, _client(request.client)
        )
        return pb.VerifyActionCodeResponse(action_proof=proof)

    def CreateCandidateAccounts(
        self, request: pb.CreateCandidateAccountsRequest, context: grpc.ServicerContext
    ) -> pb.CreateCandidateAccountsResponse:
        rows = [
            {
                "candidate_no": r.candidate_no,
                "name": r.name,
                "id_number": r.id_number,
                "phone": r.phone,
                "point_code": r.point_code,
            }
            for r in request.rows
        ]
        created, problems = self.accounts.create_candidate_accounts(rows)
        return pb.CreateCandidateAccountsResponse(
            accounts=[pb.CreatedAccount(candidate_no=n, initial_password=p) for n, p in created],
            errors=[pb.RowError(row=p.row, field=p.field, message=p.message) for p in problems],
        )

    def CreateStaffAccount(
        self, request: pb.CreateStaffAccountRequest, context: grpc.ServicerContext
    ) -> pb.CreateStaffAccountResponse:
        password = self.accounts.create_staff_account(
            request.username, request.name, request.role, request.city_code, request.point_code
        )
        return pb.CreateStaffAccountResponse(username=request.username.strip().lower(), initial_password=password)

    def ListSecurityEvents(
        self, request: pb.ListSecurityEventsRequest, context: grpc.ServicerContext
    ) -> pb.ListSecurityEventsResponse:
        require_staff(Role.PROVINCE)
        query = select(SecurityEventRow).order_by(SecurityEventRow.id.desc()).limit(min(max(request.limit, 1), 500))
        if request.subject:
            query = query.where(SecurityEventRow.subject == request.subject)
        if request.kind:
            query = query.where(SecurityEventRow.kind == request.kind)
        with self.ctx.db.unit_of_work() as session:
            rows = session.scalars(query).all()
            return pb.ListSecurityEventsResponse(
                events=[
                    pb.SecurityEvent(
                        id=r.id, at=unix(r.at), kind=r.kind, subject=r.subject, actor=r.actor, ip=r.ip, detail=r.detail
                    )
                    for r in rows
                ]
            )

    def SearchAudit(self, request: pb.SearchAuditRequest, context: grpc.ServicerContext) -> pb.SearchAuditResponse:
        rows, total, actions = self.audit_log.search(
            lambda: AuditQuery.parse(
                request.actor,
                request.subject,
                request.service,
                request.action,
                request.since,
                request.until,
                request.limit,
                request.offset,
            ),
            with_actions=request.with_actions,
        )
        return pb.SearchAuditResponse(
            entries=[
                pb.AuditEntry(
                    id=r.id,
                    at=unix(r.at),
                    service=r.service,
                    action=r.action,
                    subject=r.subject,
                    candidate_no=r.candidate_no,
                    actor=r.actor,
                    actor_role=r.actor_role,
                    detail=r.detail,
                    ip=r.ip,
                    level=r.level,
                )
                for r in rows
            ],
            total=total,
            actions=[pb.AuditAction(service=s, action=a) for s, a in actions],
        )


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [registrar(auth_pb2_grpc.add_AuthServiceServicer_to_server, AuthServicer(ctx), _SERVICE)]
