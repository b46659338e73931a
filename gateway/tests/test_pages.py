"""Public pages, probes and headers."""

import pytest
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.tests.conftest import Stack
from zsb.common.settings import Settings


@pytest.fixture
def bare() -> FlaskClient:
    # Services are pointed at a closed port: the gateway must say so, not crash.
    settings = Settings(
        service_name="gateway",
        service_addresses="auth=127.0.0.1:9,registration=127.0.0.1:9",
        ready_services="auth,registration",
    )
    return create_app(settings).test_client()


def test_login_page_has_the_manuals_fields_and_links(stack: Stack) -> None:
    resp = stack.client().get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for words in (
        "考生登录",
        'name="candidate_no"',
        'name="password"',
        'name="captcha"',
        "data:image/png;base64,",
        "看不清，换一张",
        "报名操作流程",
        "网上报名咨询电话",
        "考生使用说明",
        "首页",
        "忘记密码",
        "主办单位：山西省招生考试管理中心",
    ):
        assert words in html


@pytest.mark.parametrize("path", ["/guide/process", "/guide/hotlines", "/guide/manual"])
def test_guide_pages(bare: FlaskClient, path: str) -> None:
    assert bare.get(path).status_code == 200


def test_security_headers_and_request_id(bare: FlaskClient) -> None:
    resp = bare.get("/guide/process", headers={"X-Request-Id": "abcdef0123456789"})
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Request-Id"] == "abcdef0123456789"
    # A request id that could inject into logs is replaced by a fresh one.
    assert bare.get("/guide/process", headers={"X-Request-Id": "bad id;x=1"}).headers["X-Request-Id"] != "bad id;x=1"


def test_healthz_is_alive_and_readyz_reports_unavailable_services(bare: FlaskClient) -> None:
    assert bare.get("/healthz").json == {"status": "ok"}
    resp = bare.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["services"] == {"auth": "UNAVAILABLE", "registration": "UNAVAILABLE"}


def test_services_down_is_a_clear_page_not_a_crash(bare: FlaskClient) -> None:
    resp = bare.get("/")
    assert resp.status_code == 503
    assert "系统繁忙" in resp.get_data(as_text=True)
    api = bare.get("/api/v1/captcha")
    assert api.status_code == 503 and api.json["error"]["message"] == "系统繁忙，请稍后再试"


def test_unknown_page_and_method(bare: FlaskClient) -> None:
    resp = bare.get("/no/such/page")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
    assert bare.get("/api/v1/nothing").json["error"]["message"] == "页面不存在"


def test_no_healthy_instance_in_consul_is_a_busy_page_not_a_500() -> None:
    # Consul answers for nothing here (nothing listens on port 9): every lookup finds no instance.
    app = create_app(Settings(service_name="gateway", consul_http_addr="127.0.0.1:9"))
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 503 and "系统繁忙" in page.get_data(as_text=True)
    api = client.get("/api/v1/captcha")
    assert api.status_code == 503 and api.json["error"]["code"] == "UNAVAILABLE"
