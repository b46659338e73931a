"""Use cases of the auth service."""

from __future__ import annotations

from argon2 import PasswordHasher
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.exc import IntegrityError

from services.auth.adapters import AccountRepository, CandidateAccount
from services.auth.domain import CandidateNumber, check_candidate_row, generate_initial_password
from zsb.common.errors import AlreadyExists, DomainError
from zsb.common.outbox import add_event, utcnow
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import auth_events_pb2

# OWASP's minimum for Argon2id: m=19 MiB, t=2, p=1.
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MAX_IMPORT_ROWS = 5000


class RowProblem(Exception):
    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(message)
        self.row, self.field, self.message = row, field, message


class AuthService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def create_candidate_accounts(self, rows: list[dict[str, str]]) -> tuple[list[tuple[str, str]], list[RowProblem]]:
        """Issue accounts for an import list, all or nothing.

        Returns (accounts as (考生号, initial password), problems); when there are problems
        nothing is written.
        """
        problems: list[RowProblem] = []
        if not rows:
            return [], [RowProblem(0, "", "导入名单为空")]
        if len(rows) > MAX_IMPORT_ROWS:
            return [], [RowProblem(0, "", f"一次最多导入{MAX_IMPORT_ROWS}名考生")]
        numbers: list[CandidateNumber] = []
        seen: set[str] = set()
        for i, row in enumerate(rows, start=1):
            try:
                number = CandidateNumber.parse(row["candidate_no"])
                check_candidate_row(row["name"], row["id_number"], row["phone"], row["point_code"], number)
                if number.value in seen:
                    raise AlreadyExists("考生号在名单中重复", field="candidate_no")
                seen.add(number.value)
                numbers.append(number)
            except DomainError as err:
                problems.append(RowProblem(i, err.field, err.message))
        if problems:
            return [], problems
        pii = self.ctx.pii
        created: list[tuple[str, str]] = []
        try:
            with self.ctx.db.unit_of_work() as session:
                repo = AccountRepository(session)
                existing = repo.existing_numbers([n.value for n in numbers])
                if existing:
                    return [], [
                        RowProblem(i, "candidate_no", "考生号已存在")
                        for i, n in enumerate(numbers, start=1)
                        if n.value in existing
                    ]
                now = utcnow()
                for number, row in zip(numbers, rows, strict=True):
                    password = generate_initial_password()
                    id_number = row["id_number"].strip().upper()
                    phone = row["phone"].strip()
                    repo.add(
                        CandidateAccount(
                            candidate_no=number.value,
                            name=row["name"].strip(),
                            id_number_enc=pii.encrypt(id_number, "id_number"),
                            id_number_hmac=pii.blind_index(id_number, "id_number"),
                            phone_enc=pii.encrypt(phone, "phone"),
                            phone_hmac=pii.blind_index(phone, "phone"),
                            point_code=number.point_code,
                            password_hash=PASSWORD_HASHER.hash(password),
                            must_change_password=True,
                            created_at=now,
                        )
                    )
                    created_at = Timestamp()
                    created_at.FromDatetime(now)
                    add_event(
                        session,
                        self.ctx.name,
                        number.value,
                        auth_events_pb2.CandidateAccountCreated(
                            candidate_no=number.value,
                            name=row["name"].strip(),
                            point_code=number.point_code,
                            created_at=created_at,
                        ),
                    )
                    created.append((number.value, password))
        except IntegrityError:
            # A concurrent import took one of these numbers between our check and commit.
            return [], [RowProblem(0, "candidate_no", "考生号已存在（并发导入）")]
        return created, []
