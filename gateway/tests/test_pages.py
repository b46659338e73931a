"""Gateway pages and probes with the Flask test client (no services running)."""

import pytest
from flask.testing import FlaskClient

from gateway.app import create_app
from zsb.common.settings import Settings


@pytest.fixture
def client() -> FlaskClient:
    # Services are pointed at a closed port, so readiness must report them as unavailable.
    settings = Settings(
        service_name="gateway",
        service_addresses="auth=127.0.0.1:9,registration=127.0.0.1:9",
        ready_services="auth,registration",
    )
    return create_app(settings).test_client()


def test_login_page_has_the_manuals_fields_and_links(client: FlaskClient) -> None:
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for words in (
        "考生登录",
        'name="candidate_no"',
        'name="password"',
        'name="captcha"',
        "报名操作流程",
        "网上报名咨询电话",
        "考生使用说明",
        "首页",
        "主办单位：山西省招生考试管理中心",
    ):
        assert words in html


@pytest.mark.parametrize("path", ["/guide/process", "/guide/hotlines", "/guide/manual"])
def test_guide_pages(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_security_headers_and_request_id(client: FlaskClient) -> None:
    resp = client.get("/", headers={"X-Request-Id": "abcdef0123456789"})
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Request-Id"] == "abcdef0123456789"
    # A request id that could inject into logs is replaced by a fresh one.
    assert client.get("/", headers={"X-Request-Id": "bad id;x=1"}).headers["X-Request-Id"] != "bad id;x=1"


def test_healthz_is_alive_and_readyz_reports_unavailable_services(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["services"] == {"auth": "UNAVAILABLE", "registration": "UNAVAILABLE"}
