"""The audit log page (/admin/audit): province staff search every service's actions, labelled in
Chinese, paged; a registration point's 查看完整信息 shows up there, its numbers masked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.tests.conftest import CANDIDATE
from gateway.tests.test_registration_pages import RegStack, post, staff, text
from gateway.views import audit_admin
from services.auth.main import SPEC as AUTH
from services.auth.tests.test_audit_log import create_topics
from services.registration.main import SPEC as REGISTRATION
from services.registration.service.facts import open_registration
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings


@pytest.fixture
def astack(service_settings, sqlite_url: str, tmp_path: Path, bearer, kafka_bootstrap: str) -> Iterator[RegStack]:
    """auth and registration on topics of their own: auth collects what registration publishes."""
    prefix = f"auditp{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, prefix)
    auth_settings = service_settings("auth", sqlite_url, kafka_topic_prefix=prefix)
    auth = ServiceRuntime(AUTH, auth_settings)
    registration = ServiceRuntime(
        REGISTRATION, service_settings("registration", f"sqlite:///{tmp_path / 'reg.db'}", kafka_topic_prefix=prefix)
    )
    auth_port, reg_port = auth.start(), registration.start()
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=f"auth=127.0.0.1:{auth_port},registration=127.0.0.1:{reg_port}",
        )
    )
    app.config["TESTING"] = True
    stack = RegStack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    stack.registration = registration
    yield stack
    registration.stop(grace=0)
    auth.stop(grace=0)


def wait_for_page(client, query: dict, needle: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = text(client.get("/admin/audit", query_string=query))
        if needle in page:
            return page
        time.sleep(0.3)
    raise AssertionError(f"{needle!r} never appeared on the audit page")


def test_province_searches_the_platform_audit_log(astack: RegStack, monkeypatch: pytest.MonkeyPatch) -> None:
    with astack.registration.ctx.db.unit_of_work() as session:
        open_registration(session, CANDIDATE, "张三", "0113")
    point = staff(astack, "point0113", "point", "01", "0113")
    province = staff(astack, "sheng01", "province")

    # 查看完整信息 by the point's staff, with a purpose that names a phone number.
    shown = post(point, f"/admin/candidates/{CANDIDATE}/reveal", {"purpose": "核对来电13812345678"}, page="/admin")
    assert shown.status_code == 200

    page = wait_for_page(province, {"subject": CANDIDATE}, "查看考生完整信息")
    assert "报名与审核" in page and "point0113" in page and "报名点" in page
    assert "核对来电138****5678" in page and "13812345678" not in page
    assert 'id="audit-total">1<' in page

    # auth's own events are there too, and the actions on record fill the filter, in Chinese.
    accounts = text(province.get("/admin/audit", query_string={"service": "auth", "action": "staff_created"}))
    assert accounts.count("创建管理员账号") >= 3  # two rows and the selected option
    assert "point0113" in accounts and "sheng01" in accounts and "查看考生完整信息" not in accounts.split("<tbody>")[1]
    assert '<option value="pii_viewed">查看考生完整信息</option>' in accounts
    by_actor = text(province.get("/admin/audit", query_string={"actor": "point0113", "service": "registration"}))
    assert "查看考生完整信息" in by_actor and 'id="audit-total">1<' in by_actor

    # Dates are Beijing days, the end day included; a day long past finds nothing.
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    assert 'id="audit-total">1<' in text(
        province.get("/admin/audit", query_string={"subject": CANDIDATE, "since": today, "until": today})
    )
    assert 'id="audit-total">0<' in text(province.get("/admin/audit", query_string={"until": "2020-01-01"}))
    bad = province.get("/admin/audit", query_string={"since": "2026-13-01"})
    assert bad.status_code == 400 and "日期格式应为" in text(bad)
    backwards = province.get("/admin/audit", query_string={"since": "2026-03-02", "until": "2026-03-01"})
    assert backwards.status_code == 400 and "结束时间须晚于开始时间" in text(backwards)

    # Pages keep the filters.
    monkeypatch.setattr(audit_admin, "PAGE_SIZE", 2)
    first = text(province.get("/admin/audit", query_string={"service": "auth"}))
    assert "第 1 / " in first and "page=2" in first and "service=auth" in first
    second = text(province.get("/admin/audit", query_string={"service": "auth", "page": 2}))
    assert "第 2 / " in second and "page=1" in second

    # Only the province: other staff are refused, and their menu does not offer it.
    assert point.get("/admin/audit").status_code == 403
    assert "审计日志" not in text(point.get("/admin")) and "审计日志" in text(province.get("/admin"))
