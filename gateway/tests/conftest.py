"""The gateway against a real auth service (and registration) running in-process on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from services.auth.main import SPEC as AUTH
from services.registration.main import SPEC as REGISTRATION
from zsb.auth.v1 import auth_pb2 as pb
from zsb.auth.v1 import auth_pb2_grpc
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.common.testing import captcha_answer

CANDIDATE = "21145101130001"
NEW_PASSWORD = "Shanxi2026!ok"


@dataclass
class Stack:
    app: Flask
    auth: ServiceRuntime
    answers: Path
    sms: Path
    bearer: object

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def stub(self) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(grpc.insecure_channel(f"127.0.0.1:{self.auth.port}"))

    def import_candidate(self, number: str = CANDIDATE, phone: str = "13812345678") -> str:
        resp = self.stub().CreateCandidateAccounts(
            pb.CreateCandidateAccountsRequest(
                rows=[
                    pb.CandidateRow(
                        candidate_no=number,
                        name="张三",
                        id_number="140105199001011238",
                        phone=phone,
                        point_code=number[6:10],
                    )
                ]
            ),
            metadata=self.bearer("province", "admin"),
        )
        assert not resp.errors, resp.errors
        return resp.accounts[0].initial_password

    def staff(self, username: str, role: str, city: str = "", point: str = "") -> str:
        resp = self.stub().CreateStaffAccount(
            pb.CreateStaffAccountRequest(username=username, name="管理员", role=role, city_code=city, point_code=point),
            metadata=self.bearer("province", "admin"),
        )
        return resp.initial_password


@pytest.fixture
def stack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[Stack]:
    auth_settings = service_settings("auth", sqlite_url)
    auth = ServiceRuntime(AUTH, auth_settings)
    registration = ServiceRuntime(REGISTRATION, service_settings("registration", f"sqlite:///{tmp_path / 'reg.db'}"))
    auth_port, reg_port = auth.start(), registration.start()
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=f"auth=127.0.0.1:{auth_port},registration=127.0.0.1:{reg_port}",
        )
    )
    app.config["TESTING"] = True
    yield Stack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    registration.stop(grace=0)
    auth.stop(grace=0)


_HIDDEN = re.compile(r'name="(csrf_token|captcha_id)" value="([^"]*)"')


def hidden(html: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(html))


def form_with_captcha(stack: Stack, client: FlaskClient, page: str) -> dict[str, str]:
    """GET a page with a captcha: its hidden fields plus the captcha's answer from the side channel."""
    html = client.get(page).get_data(as_text=True)
    fields = hidden(html)
    fields["captcha"] = captcha_answer(stack.answers, fields["captcha_id"])
    return fields


def login(stack: Stack, client: FlaskClient, password: str, number: str = CANDIDATE):
    fields = form_with_captcha(stack, client, "/")
    return client.post("/login", data={**fields, "candidate_no": number, "password": password})


def logged_in_client(stack: Stack) -> FlaskClient:
    """A candidate who has logged in and changed the initial password."""
    client = stack.client()
    initial = stack.import_candidate()
    assert login(stack, client, initial).status_code == 302
    csrf = hidden(client.get("/password/change").get_data(as_text=True))["csrf_token"]
    resp = client.post(
        "/password/change",
        data={
            "csrf_token": csrf,
            "old_password": initial,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert resp.status_code == 302
    return client
