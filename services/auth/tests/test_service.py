"""The auth service through its gRPC API, on SQLite and MariaDB, with its real relay to Kafka."""

from collections.abc import Iterator

import grpc
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from services.auth.adapters import CandidateAccount
from services.auth.main import SPEC
from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import outbox


@pytest.fixture
def auth(service_settings, database_url: str) -> Iterator[tuple[ServiceRuntime, auth_pb2_grpc.AuthServiceStub]]:
    runtime = ServiceRuntime(SPEC, service_settings("auth", database_url))
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield runtime, auth_pb2_grpc.AuthServiceStub(channel)
    runtime.stop(grace=0)


def row(n: str = "21145101130001", **kw: str) -> auth_pb2.CandidateRow:
    values = {
        "candidate_no": n,
        "name": "张三",
        "id_number": "140105199001011234",
        "phone": "13812345678",
        "point_code": n[6:10],
    } | kw
    return auth_pb2.CandidateRow(**values)


def test_import_issues_accounts_with_hashed_passwords_and_encrypted_pii(auth) -> None:
    runtime, stub = auth
    resp = stub.CreateCandidateAccounts(auth_pb2.CreateCandidateAccountsRequest(rows=[row(), row("21145101130002")]))
    assert not resp.errors and len(resp.accounts) == 2
    with runtime.ctx.db.unit_of_work() as session:
        account = session.get(CandidateAccount, "21145101130001")
        assert account is not None and account.must_change_password
        assert PasswordHasher().verify(account.password_hash, resp.accounts[0].initial_password)
        assert account.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert "140105199001011234" not in account.id_number_enc and "13812345678" not in account.phone_enc
        assert runtime.ctx.pii.decrypt(account.phone_enc, "phone") == "13812345678"
        assert session.execute(select(outbox.c.key)).scalars().all() == ["21145101130001", "21145101130002"]


def test_import_is_all_or_nothing(auth) -> None:
    runtime, stub = auth
    resp = stub.CreateCandidateAccounts(
        auth_pb2.CreateCandidateAccountsRequest(rows=[row(), row("21145101130002", phone="12345"), row("bad")])
    )
    assert [(e.row, e.field) for e in resp.errors] == [(2, "phone"), (3, "candidate_no")]
    assert not resp.accounts
    with runtime.ctx.db.unit_of_work() as session:
        assert session.execute(select(CandidateAccount)).first() is None
        assert session.execute(select(outbox)).first() is None


def test_duplicates_in_list_and_in_database_are_reported(auth) -> None:
    _runtime, stub = auth
    resp = stub.CreateCandidateAccounts(auth_pb2.CreateCandidateAccountsRequest(rows=[row(), row()]))
    assert [(e.row, e.message) for e in resp.errors] == [(2, "考生号在名单中重复")]
    assert not stub.CreateCandidateAccounts(auth_pb2.CreateCandidateAccountsRequest(rows=[row()])).errors
    again = stub.CreateCandidateAccounts(auth_pb2.CreateCandidateAccountsRequest(rows=[row()]))
    assert [e.message for e in again.errors] == ["考生号已存在"]


def test_empty_import_is_rejected(auth) -> None:
    _runtime, stub = auth
    assert [e.message for e in stub.CreateCandidateAccounts(auth_pb2.CreateCandidateAccountsRequest()).errors] == [
        "导入名单为空"
    ]
