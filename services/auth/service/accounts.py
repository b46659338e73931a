"""Issuing accounts: candidates imported by a registration point, staff created by the province."""

from __future__ import annotations

import re
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.auth.adapters.tables import CandidateAccount, StaffAccount
from services.auth.domain.accounts import CandidateNumber, check_candidate_row, generate_initial_password
from services.auth.service import audit
from services.auth.service.hashing import hash_password
from zsb.common.clock import to_beijing, utcnow
from zsb.common.errors import AlreadyExists, DomainError, InvalidArgument
from zsb.common.outbox import add_event
from zsb.common.principal import Principal, Role, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import auth_events_pb2

MAX_IMPORT_ROWS = 5000
_USERNAME = re.compile(r"^[a-z][a-z0-9_]{3,31}$")
_CITY = re.compile(r"^(0[1-9]|1[01])$")
_POINT = re.compile(r"^(0[1-9]|1[01])[0-9]{2}$")


@dataclass
class RowProblem:
    row: int
    field: str
    message: str


class AccountsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def create_candidate_accounts(self, rows: list[dict[str, str]]) -> tuple[list[tuple[str, str]], list[RowProblem]]:
        """Issue accounts for an import list, all or nothing, within the caller's scope.

        Returns (accounts as (考生号, initial password), problems); with problems nothing is written.
        """
        staff = require_staff(Role.PROVINCE, Role.CITY, Role.POINT)
        if not rows:
            return [], [RowProblem(0, "", "导入名单为空")]
        if len(rows) > MAX_IMPORT_ROWS:
            return [], [RowProblem(0, "", f"一次最多导入{MAX_IMPORT_ROWS}名考生")]
        numbers, problems = self._check_rows(rows, staff)
        if problems:
            return [], problems
        pii = self.ctx.pii
        created: list[tuple[str, str]] = []
        try:
            with self.ctx.db.unit_of_work() as session:
                existing = set(
                    session.scalars(
                        select(CandidateAccount.candidate_no).where(
                            CandidateAccount.candidate_no.in_([n.value for n in numbers])
                        )
                    )
                )
                if existing:
                    return [], [
                        RowProblem(i, "candidate_no", "考生号已存在")
                        for i, n in enumerate(numbers, start=1)
                        if n.value in existing
                    ]
                now = utcnow()
                created_at = Timestamp()
                created_at.FromDatetime(now)
                for number, row in zip(numbers, rows, strict=True):
                    password = generate_initial_password()
                    id_number, phone, name = row["id_number"], row["phone"], row["name"]
                    session.add(
                        CandidateAccount(
                            candidate_no=number.value,
                            name=name,
                            id_number_enc=pii.encrypt(id_number, "id_number"),
                            id_number_hmac=pii.blind_index(id_number, "id_number"),
                            phone_enc=pii.encrypt(phone, "phone"),
                            phone_hmac=pii.blind_index(phone, "phone"),
                            point_code=number.point_code,
                            password_hash=hash_password(password),
                            must_change_password=True,
                            created_at=now,
                        )
                    )
                    add_event(
                        session,
                        self.ctx.name,
                        number.value,
                        auth_events_pb2.CandidateAccountCreated(
                            candidate_no=number.value, name=name, point_code=number.point_code, created_at=created_at
                        ),
                    )
                    created.append((number.value, password))
                audit.record(session, "accounts_imported", staff.subject, detail=f"{len(created)} candidates")
        except IntegrityError:
            # A concurrent import took one of these numbers between our check and commit.
            return [], [RowProblem(0, "candidate_no", "考生号已存在（并发导入），请重新导入")]
        return created, []

    def _check_rows(
        self, rows: list[dict[str, str]], staff: Principal
    ) -> tuple[list[CandidateNumber], list[RowProblem]]:
        """Check every row; the normalised name, ID number and phone are written back into it."""
        numbers: list[CandidateNumber] = []
        problems: list[RowProblem] = []
        seen: set[str] = set()
        today = to_beijing(utcnow()).date()
        for i, row in enumerate(rows, start=1):
            try:
                number = CandidateNumber.parse(row["candidate_no"])
                row["name"], row["id_number"], row["phone"] = check_candidate_row(
                    row["name"], row["id_number"], row["phone"], row["point_code"], number, today
                )
                if not staff.in_scope(number.city_code, number.point_code):
                    raise InvalidArgument("该考生不属于本单位管理范围", field="point_code")
                if number.value in seen:
                    raise AlreadyExists("考生号在名单中重复", field="candidate_no")
                seen.add(number.value)
                numbers.append(number)
            except DomainError as err:
                problems.append(RowProblem(i, err.field, err.message))
        return numbers, problems

    def create_staff_account(
        self, username: str, name: str, role: str, city_code: str, point_code: str, *, actor: str | None = None
    ) -> str:
        """Create a staff account; returns its initial password (to be changed at first login).

        `actor` is given only by the command-line bootstrap of the first province account;
        otherwise the caller must be province staff.
        """
        if actor is None:
            actor = require_staff(Role.PROVINCE).subject
        username, name = username.strip().lower(), name.strip()
        role_value = _check_staff(username, name, role, city_code, point_code)
        if role_value in (Role.POINT,) or (role_value == Role.REVIEWER and point_code):
            city_code = point_code[:2]
        password = generate_initial_password()
        try:
            with self.ctx.db.unit_of_work() as session:
                if session.get(StaffAccount, username) is not None:
                    raise AlreadyExists("用户名已存在", field="username")
                session.add(
                    StaffAccount(
                        username=username,
                        name=name,
                        role=role_value.value,
                        city_code=city_code if role_value != Role.PROVINCE else "",
                        point_code=point_code if role_value in (Role.POINT, Role.REVIEWER) else "",
                        password_hash=hash_password(password),
                        must_change_password=True,
                        active=True,
                        created_at=utcnow(),
                    )
                )
                audit.record(session, "staff_created", username, actor=actor, detail=f"role={role_value.value}")
        except IntegrityError as exc:
            raise AlreadyExists("用户名已存在", field="username") from exc
        return password


def _check_staff(username: str, name: str, role: str, city_code: str, point_code: str) -> Role:
    if not _USERNAME.match(username):
        raise InvalidArgument("用户名须以小写字母开头，4-32位小写字母、数字或下划线", field="username")
    if not name or len(name) > 30:
        raise InvalidArgument("姓名不能为空且不超过30个字", field="name")
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise InvalidArgument("角色不正确", field="role") from exc
    if role_value == Role.CANDIDATE:
        raise InvalidArgument("角色不正确", field="role")
    if role_value == Role.CITY and not _CITY.match(city_code):
        raise InvalidArgument("地市代码不正确", field="city_code")
    if role_value == Role.POINT and not _POINT.match(point_code):
        raise InvalidArgument("报名点代码不正确", field="point_code")
    if role_value == Role.REVIEWER and not (_CITY.match(city_code) or _POINT.match(point_code)):
        raise InvalidArgument("审核员须指定地市或报名点", field="city_code")
    return role_value
