"""The platform as separate processes: six services and two gateways, health, and the event path."""

from __future__ import annotations

import json
import signal

import grpc
import pytest
import requests

from tests.conftest import System, http_get, wait_for
from zsb.common.settings import SERVICE_NAMES
from zsb.common.testing import captcha_answer
from zsb.registration.v1 import registration_pb2, registration_pb2_grpc

pytestmark = pytest.mark.system


def test_every_gateway_is_ready_with_all_services_serving(system: System) -> None:
    for i in range(2):
        status, body = http_get(system.url("/readyz", gateway=i))
        assert status == 200
        assert json.loads(body)["services"] == dict.fromkeys(SERVICE_NAMES, "SERVING")


def test_login_page_answers_in_chinese(system: System) -> None:
    status, body = http_get(system.url("/"))
    text = body.decode()
    assert status == 200
    for words in (
        "考生登录",
        "考生号",
        "验证码",
        "报名操作流程",
        "网上报名咨询电话",
        "考生使用说明",
        "山西省招生考试管理中心",
    ):
        assert words in text


def test_account_created_in_auth_reaches_registration(system: System) -> None:
    number, _password = system.import_candidate(name="赵六")
    with system.channel("registration") as ch:
        stub = registration_pb2_grpc.RegistrationServiceStub(ch)
        token = system.bearer("candidate", number, "01", "0113")

        def found() -> object:
            try:
                return stub.GetCandidate(
                    registration_pb2.GetCandidateRequest(candidate_no=number), timeout=5, metadata=token
                )
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
                return None

        candidate = wait_for(found)
    assert (candidate.name, candidate.point_code) == ("赵六", "0113")


def test_readiness_follows_a_killed_service(system: System) -> None:
    system.platform.kill("results", signal.SIGKILL)
    status, body = http_get(system.url("/readyz"))
    assert status == 503 and json.loads(body)["services"]["results"] != "SERVING"
    system.platform.start("results")
    system.platform.wait_ready(["results"], timeout=60)
    # The gateway reconnects by itself within its short backoff.
    wait_for(lambda: http_get(system.url("/readyz"))[0] == 200, timeout=30)


def test_two_gateway_replicas_behave_as_one(system: System) -> None:
    """Captcha and CSRF from one gateway, login on the other, the session used on the first:
    no session or captcha state lives in a gateway process."""
    number, initial = system.import_candidate(name="冯十二")
    one, two = system.url("", gateway=0), system.url("", gateway=1)
    browser = requests.Session()  # cookies are per host, not per port: both replicas see them
    csrf = browser.get(f"{one}/api/v1/csrf", timeout=10).json()["csrf_token"]
    captcha = browser.get(f"{one}/api/v1/captcha", timeout=10).json()
    body = {
        "candidate_no": number,
        "password": initial,
        "captcha_id": captcha["id"],
        "captcha": captcha_answer(system.answers, captcha["id"]),
    }
    login = browser.post(f"{two}/api/v1/session", json=body, headers={"X-CSRF-Token": csrf}, timeout=10)
    assert login.status_code == 200 and login.json()["must_change_password"] is True
    assert browser.get(f"{one}/api/v1/me", timeout=10).json()["candidate_no"] == number
    # The captcha was used up on replica two: replayed on replica one, it is refused.
    other = requests.Session()
    other_csrf = other.get(f"{one}/api/v1/csrf", timeout=10).json()["csrf_token"]
    replay = other.post(f"{one}/api/v1/session", json=body, headers={"X-CSRF-Token": other_csrf}, timeout=10)
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "CAPTCHA_INVALID"
