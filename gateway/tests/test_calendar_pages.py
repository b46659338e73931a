"""The calendar pages: the province sets the whole year on one page (the registration service's
phases and the preference batches' windows), city staff cannot, candidates see what is open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import grpc
import pytest

from gateway.app import create_app
from gateway.tests.test_registration_pages import (
    RegStack,
    candidate,
    post,
    read_notices,
    save,
    staff,
    text,
)
from gateway.tests.test_registration_pages import rstack as rstack
from services.auth.main import SPEC as AUTH
from services.preferences.tests.helpers import WITHOUT_CONSUMERS as PREFERENCES
from services.registration.adapters import calendar_phases
from services.registration.main import SPEC as REGISTRATION
from services.registration.tests.helpers import form, publish_outbox_now
from services.results.tests.support import WITHOUT_CONSUMERS as RESULTS
from zsb.common.calendar import Phase, Window, load_calendar
from zsb.common.clock import BEIJING
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.preferences.v1 import preferences_pb2 as pref_pb
from zsb.preferences.v1 import preferences_pb2_grpc


def registration_phase(stack: RegStack) -> Window:
    """The stored window, read from the registration service's database."""
    with stack.registration.ctx.db.unit_of_work() as session:
        return load_calendar(session, calendar_phases).window(Phase.REGISTRATION)


def test_province_sets_a_phase_and_candidates_see_it(rstack: RegStack) -> None:  # noqa: F811
    city = staff(rstack, "city01", "city", "01")
    page = city.get("/admin/calendar")
    assert page.status_code == 200 and "网上报名开放中" in text(page)
    refused = post(city, "/admin/calendar/registration", {"opens_at": "2099-03-01T09:00"}, page="/admin/calendar")
    assert refused.status_code == 403
    assert registration_phase(rstack) == Window()

    province = staff(rstack, "sheng01", "province")
    bad = post(
        province,
        "/admin/calendar/registration",
        {"opens_at": "2099-03-02T09:00", "closes_at": "2099-03-01T09:00"},
        page="/admin/calendar",
    )
    assert bad.status_code == 400 and "结束时间须晚于开始时间" in text(bad)
    assert post(province, "/admin/calendar/nonsense", {}, page="/admin/calendar").status_code == 404
    saved = post(province, "/admin/calendar/registration", {"opens_at": "2099-03-01T09:00"}, page="/admin/calendar")
    assert saved.status_code == 302
    page = province.get("/admin/calendar")
    assert "网上报名将于2099年3月1日09:00开放" in text(page) and "sheng01" in text(page)
    assert 'value="2099-03-01T09:00"' in text(page)

    client = candidate(rstack)
    home = client.get("/registration")
    assert "下一步：网上报名将于2099年3月1日09:00开放" in text(home)
    assert "网上报名：未开始（3月1日09:00开始）" in text(home)
    read_notices(rstack, client)
    refused_form = save(client, form())
    assert refused_form.status_code == 409 and "网上报名将于2099年3月1日09:00开放" in text(refused_form)

    # Cleared again: open, and the form is accepted.
    assert post(province, "/admin/calendar/registration", {}, page="/admin/calendar").status_code == 302
    publish_outbox_now(rstack.registration)  # the topic ends with the phase open again
    assert save(client, form()).status_code == 302


class YearStack(RegStack):
    preferences: ServiceRuntime
    results: ServiceRuntime

    def batches(self) -> dict[str, pref_pb.Batch]:
        with grpc.insecure_channel(f"127.0.0.1:{self.preferences.port}") as channel:
            stub = preferences_pb2_grpc.PreferencesServiceStub(channel)
            listed = stub.ListBatches(pref_pb.ListBatchesRequest(), metadata=self.bearer("province", "sheng01"))
        return {b.code: b for b in listed.batches}


@pytest.fixture
def ystack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[YearStack]:
    """The owners of the year's calendar: registration (phases), preferences (batches), results (征集志愿)."""
    auth_settings = service_settings("auth", sqlite_url)

    def own(name: str):
        return service_settings(name, f"sqlite:///{tmp_path / name}.db")

    runtimes = {
        "auth": ServiceRuntime(AUTH, auth_settings),
        "registration": ServiceRuntime(REGISTRATION, own("registration")),
        "preferences": ServiceRuntime(PREFERENCES, own("preferences")),
        "results": ServiceRuntime(RESULTS, own("results")),
    }
    ports = {name: runtime.start() for name, runtime in runtimes.items()}
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=",".join(f"{name}=127.0.0.1:{port}" for name, port in ports.items()),
        )
    )
    app.config["TESTING"] = True
    stack = YearStack(
        app, runtimes["auth"], Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer
    )
    stack.registration, stack.preferences, stack.results = (
        runtimes["registration"],
        runtimes["preferences"],
        runtimes["results"],
    )
    yield stack
    for runtime in runtimes.values():
        runtime.stop(grace=0)


def local(ts: int) -> str:
    return datetime.fromtimestamp(ts, BEIJING).strftime("%Y-%m-%d %H:%M")


def test_the_whole_year_on_one_page_and_what_candidates_read(ystack: YearStack) -> None:
    province = staff(ystack, "sheng01", "province")
    page = text(province.get("/admin/calendar"))
    for expected in ("准考证打印", "成绩查询", "志愿填报批次", "第1批：建档立卡专项批本科", "第2批：普通批本科"):
        assert expected in page, expected
    assert "征集志愿" in page and "征集计划尚未发布" in page and "暂时无法读取" not in page

    # A batch's window, set here, lives in the preferences service (Beijing time as typed).
    window = {"opens_at": "2099-07-01T09:00", "closes_at": "2099-07-03T17:30"}
    assert post(province, "/admin/calendar/batch/ordinary", window, page="/admin/calendar").status_code == 302
    batch = ystack.batches()["ordinary"]
    assert (local(batch.opens_at), local(batch.closes_at)) == ("2099-07-01 09:00", "2099-07-03 17:30")
    page = text(province.get("/admin/calendar?saved=1"))
    assert 'value="2099-07-01T09:00"' in page and "普通批本科 填报时间：2099-07-01 09:00 至 2099-07-03 17:30" in page
    backwards = {"opens_at": "2099-07-03T09:00", "closes_at": "2099-07-01T09:00"}
    refused = post(province, "/admin/calendar/batch/ordinary", backwards, page="/admin/calendar")
    assert refused.status_code == 400 and "结束时间须晚于开始时间" in text(refused)
    garbled = post(province, "/admin/calendar/batch/ordinary", {"opens_at": "明天"}, page="/admin/calendar")
    assert garbled.status_code == 400 and "开始时间格式不正确" in text(garbled)
    missing = post(province, "/admin/calendar/batch/nope", window, page="/admin/calendar")
    assert missing.status_code == 404 and "批次不存在" in text(missing)

    # A city's staff read the page but change nothing: each owner refuses them.
    city = staff(ystack, "city01", "city", "01")
    city_page = city.get("/admin/calendar")
    assert city_page.status_code == 200 and "本页仅供查看" in text(city_page) and "保存</button>" not in text(city_page)
    other = {"opens_at": "2099-08-01T09:00", "closes_at": "2099-08-03T09:00"}
    assert post(city, "/admin/calendar/batch/ordinary", other, page="/admin/calendar").status_code == 403
    assert post(city, "/admin/calendar/ticket_printing", other, page="/admin/calendar").status_code == 403
    assert local(ystack.batches()["ordinary"].opens_at) == "2099-07-01 09:00"
    with ystack.registration.ctx.db.unit_of_work() as session:
        assert load_calendar(session, calendar_phases).window(Phase.TICKET_PRINTING) == Window()

    # The candidate's 报考日程: each phase's truthful state, the ticket waiting for the arrangement,
    # the scores' time not announced, and the preference batches.
    client = candidate(ystack)
    lines = text(client.get("/registration"))
    for expected in (
        "网上报名：开放中",
        "准考证打印：未开始（考场编排发布后开放）",
        "成绩查询：时间待公布",
        "普通批本科志愿填报：未开始（7月1日09:00开始）",
        "建档立卡专项批本科志愿填报：时间待公布",
    ):
        assert expected in lines, expected
    assert "准考证打印开放中" not in lines
    closed = {"opens_at": "2020-03-01T09:00", "closes_at": "2020-03-10T17:30"}
    assert post(province, "/admin/calendar/confirmation", closed, page="/admin/calendar").status_code == 302
    try:
        assert "信息确认：已结束（3月10日17:30结束）" in text(client.get("/registration"))
    finally:
        assert post(province, "/admin/calendar/confirmation", {}, page="/admin/calendar").status_code == 302
        publish_outbox_now(ystack.registration)
