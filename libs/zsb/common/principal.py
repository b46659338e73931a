"""Who is calling: the short-lived signed access token the auth service issues per session.

The auth service signs with an Ed25519 key (`ACCESS_TOKEN_SIGNING_KEY`); the gateway passes the
token in gRPC metadata; every service verifies it with the public key (`ACCESS_TOKEN_PUBLIC_KEY`)
and enforces role and scope itself with the helpers below.
"""

from __future__ import annotations

import base64
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zsb.common.errors import PermissionDenied, Unauthenticated

ISSUER = "zsb-auth"
AUDIENCE = "zsb"
ACCESS_TOKEN_TTL_SECONDS = 300
# Proofs that the candidate confirmed an action by SMS code (e.g. 放弃报名): short-lived, one audience.
ACTION_AUDIENCE = "zsb-action"
ACTION_PROOF_TTL_SECONDS = 120


class Role(StrEnum):
    CANDIDATE = "candidate"
    PROVINCE = "province"  # 省招生考试管理中心
    CITY = "city"  # 地市
    POINT = "point"  # 报名点
    REVIEWER = "reviewer"  # 审核员, scoped like the city or point it reviews for


STAFF_ROLES = frozenset({Role.PROVINCE, Role.CITY, Role.POINT, Role.REVIEWER})


@dataclass(frozen=True)
class Principal:
    subject: str  # 考生号 or staff user name
    role: Role
    city_code: str = ""  # staff of a city or point; a candidate's own city
    point_code: str = ""  # staff of a point; a candidate's own point
    session: str = ""  # the session's public id, for audit trails

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def in_scope(self, city_code: str, point_code: str) -> bool:
        """Whether this staff member may see a record of that city and point."""
        if self.role == Role.PROVINCE:
            return True
        if self.role in (Role.CITY, Role.REVIEWER) and not self.point_code:
            return bool(self.city_code) and self.city_code == city_code
        if self.role in (Role.POINT, Role.REVIEWER):
            return bool(self.point_code) and self.point_code == point_code
        return False


def _pem(value: str) -> bytes:
    """Keys travel in the environment as PEM or as base64 of the PEM."""
    raw = value.strip()
    return raw.encode() if raw.startswith("-----") else base64.b64decode(raw)


def generate_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) of a new Ed25519 key, for deployment set-up and tests."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


class TokenSigner:
    def __init__(self, private_key: str, ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS) -> None:
        key = serialization.load_pem_private_key(_pem(private_key), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("ACCESS_TOKEN_SIGNING_KEY must be an Ed25519 private key")
        self._key = key
        self.ttl = ttl_seconds

    def sign(self, p: Principal, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": p.subject,
            "rol": p.role.value,
            "cty": p.city_code,
            "pnt": p.point_code,
            "sid": p.session,
            "iat": issued,
            "exp": issued + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA")

    def sign_action(self, subject: str, action: str, now: float | None = None) -> str:
        """A proof that `subject` confirmed `action` with an SMS code just now."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": ISSUER,
            "aud": ACTION_AUDIENCE,
            "sub": subject,
            "act": action,
            "iat": issued,
            "exp": issued + ACTION_PROOF_TTL_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA")


class TokenVerifier:
    def __init__(self, public_key: str) -> None:
        key = serialization.load_pem_public_key(_pem(public_key))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("ACCESS_TOKEN_PUBLIC_KEY must be an Ed25519 public key")
        self._key = key

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthenticated for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["EdDSA"],  # never 'none' or a symmetric algorithm chosen by the token
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "rol"]},
                leeway=5,
            )
            return Principal(
                subject=claims["sub"],
                role=Role(claims["rol"]),
                city_code=claims.get("cty", ""),
                point_code=claims.get("pnt", ""),
                session=claims.get("sid", ""),
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("登录已过期，请重新登录", reason="TOKEN_EXPIRED") from exc
        except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
            raise Unauthenticated("身份凭证无效", reason="TOKEN_INVALID") from exc

    def verify_action(self, proof: str, subject: str, action: str) -> None:
        """Accept only a current proof that this subject confirmed this action."""
        refused = PermissionDenied("短信验证已失效，请重新获取验证码", reason="ACTION_NOT_CONFIRMED", field="code")
        try:
            claims = jwt.decode(
                proof,
                self._key,
                algorithms=["EdDSA"],
                audience=ACTION_AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "act"]},
            )
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise refused from exc
        if claims["sub"] != subject or claims["act"] != action:
            raise refused


_current: ContextVar[Principal | None] = ContextVar("principal", default=None)


def set_principal(p: Principal | None) -> object:
    return _current.set(p)


def reset_principal(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current_principal() -> Principal:
    p = _current.get()
    if p is None:
        raise Unauthenticated("请先登录", reason="NO_TOKEN")
    return p


def require_candidate(candidate_no: str | None = None) -> Principal:
    """The calling candidate; with `candidate_no`, only that candidate themself."""
    p = current_principal()
    if p.role != Role.CANDIDATE or (candidate_no is not None and p.subject != candidate_no):
        raise PermissionDenied("无权访问", reason="NOT_THIS_CANDIDATE")
    return p


def require_staff(*roles: Role) -> Principal:
    """A staff member, of one of `roles` when given."""
    p = current_principal()
    if not p.is_staff or (roles and p.role not in roles):
        raise PermissionDenied("无权执行此操作", reason="ROLE_REQUIRED")
    return p


def require_scope(city_code: str, point_code: str) -> Principal:
    """A staff member whose scope covers the record, or the candidate it belongs to is checked by the caller."""
    p = require_staff()
    if not p.in_scope(city_code, point_code):
        raise PermissionDenied("超出管理范围", reason="OUT_OF_SCOPE")
    return p
