"""成绩与录取信息, 分数段统计 and the province's results pages through the gateway, against real
auth and results services."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.app import create_app
from gateway.tests.conftest import NEW_PASSWORD, Stack, form_with_captcha, hidden, login
from services.auth.main import SPEC as AUTH
from services.results.tests.support import WITHOUT_CONSUMERS as RESULTS
from services.results.tests.support import Harness, Person, number, score_csv
from services.results.tests.test_calendar_gate import deliver
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.events.v1 import registration_events_pb2 as reg_ev

PLAN = [("jdlk", "10108", "01", "01", 1), ("ordinary", "10108", "01", "01", 1), ("ordinary", "10112", "01", "01", 2)]
NAMES = {"10108": "山西大学", "10112": "太原理工大学", "10108/01": "会计学", "10112/01": "财务管理"}
BOTH = [("10108", "01"), ("10112", "01")]


class ResultsStack(Stack):
    results: Harness


@pytest.fixture
def rstack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[ResultsStack]:
    auth_settings = service_settings("auth", sqlite_url)
    auth = ServiceRuntime(AUTH, auth_settings)
    results = ServiceRuntime(RESULTS, service_settings("results", f"sqlite:///{tmp_path / 'results.db'}"))
    auth_port, results_port = auth.start(), results.start()
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=f"auth=127.0.0.1:{auth_port},results=127.0.0.1:{results_port}",
        )
    )
    app.config["TESTING"] = True
    stack = ResultsStack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    stack.results = Harness(results, bearer)
    yield stack
    results.stop(grace=0)
    auth.stop(grace=0)


def candidate(stack: ResultsStack, no: str) -> FlaskClient:
    client = stack.client()
    initial = stack.import_candidate(no, phone=f"138{no[-8:]}")
    assert login(stack, client, initial, no).status_code == 302
    csrf = hidden(client.get("/password/change").get_data(as_text=True))["csrf_token"]
    data = {"csrf_token": csrf, "old_password": initial, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert client.post("/password/change", data=data).status_code == 302
    return client


def staff(stack: ResultsStack, username: str, role: str, city: str = "", point: str = "") -> FlaskClient:
    password = stack.staff(username, role, city, point)
    client = stack.client()
    fields = form_with_captcha(stack, client, "/admin/login")
    client.post("/admin/login", data={**fields, "username": username, "password": password})
    csrf = hidden(client.get("/admin/password").get_data(as_text=True))["csrf_token"]
    data = {
        "csrf_token": csrf,
        "old_password": password,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    assert client.post("/admin/password", data=data).status_code == 302
    return client


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    resp = client.get(path)
    assert resp.status_code == status, (resp.status_code, resp.headers.get("Location"))
    return resp.get_data(as_text=True)


def post(client: FlaskClient, form_page: str, path: str, data: dict, **kw):
    csrf = hidden(page(client, form_page))["csrf_token"]
    return client.post(path, data={"csrf_token": csrf, **data}, **kw)


def upload(client: FlaskClient, content: bytes, mode: str = "replace"):
    return post(
        client,
        "/admin/results/scores",
        "/admin/results/scores",
        {"file": (io.BytesIO(content), "成绩.csv"), "mode": mode, "note": ""},
        content_type="multipart/form-data",
    )


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.DOTALL)
    assert found, element_id
    return found.group(1).strip()


def people() -> list[Person]:
    return [
        Person(number(1), "01", 110, 120, prefs={"ordinary": BOTH}),  # 230
        Person(number(2), "01", 120, 125, prefs={"ordinary": BOTH}),  # 245
        Person(number(3), "01", 100, 100, prefs={"ordinary": BOTH}),  # 200
        Person(number(4), "01", 60, 60, prefs={"ordinary": BOTH}),  # 120: below the line
        Person(number(5), "01", 95, 95, prefs={"ordinary": BOTH}),  # 190: no place left for them
    ]


def test_scores_and_bands_appear_only_once_published(rstack: ResultsStack) -> None:
    folks = people()
    rstack.results.plan(PLAN, NAMES)
    for p in folks:
        rstack.results.confirm(p)
    client = candidate(rstack, folks[0].no)
    home = page(client, "/home")
    assert "/results" in home and "成绩与录取信息" in home and "分数段统计" in home
    html = page(client, "/results")
    assert 'id="res-no-scores"' in html and 'id="res-no-admission"' in html
    assert 'id="res-bands-none"' in page(client, "/results/bands")

    prov = staff(rstack, "prov01", "province")
    assert "成绩导入与发布" in page(prov, "/admin") and "模拟投档与发布" in page(prov, "/admin")
    bad = upload(prov, score_csv(folks, [["21145101139999", "200", "100", "100"], [folks[0].no, "1", "1", "x"]]))
    assert bad.status_code == 400
    problems = bad.get_data(as_text=True)
    assert "共3处错误" in problems and "本次未导入任何数据" in problems
    assert "未找到该考生已确认的报名信息" in problems and "考生号重复（与第2行相同）" in problems
    assert "专业课成绩须为0–1000的整数或留空" in problems
    assert upload(prov, score_csv(folks)).status_code == 302
    assert 'id="res-no-scores"' in page(client, "/results")  # imported, not yet published
    publish = post(prov, "/admin/results/scores", "/admin/results/scores/1/publish", {})
    assert publish.status_code == 302
    assert "当前已发布：第1版" in page(prov, "/admin/results/scores")

    html = page(client, "/results")
    assert text_of(html, "res-rank") == "2"
    assert "在报考专业类别 01 的 5 名考生中位次为第 2 名" in html and "公共课" in html and "专业课" in html
    bands = page(client, "/results/bands")
    assert "<svg" in bands and 'class="res-bar res-bar-mine"' in bands
    assert re.search(
        r'<tr class="res-mine" aria-current="true"><td data-label="分数段">230–239（您所在分数段）</td>'
        r'<td data-label="人数">1</td><td data-label="累计人数">2</td>',
        bands,
    )
    assert "http://" not in bands and "https://" not in bands  # no CDN: the chart is drawn here

    other = candidate(rstack, folks[1].no)
    assert text_of(page(other, "/results"), "res-rank") == "1"  # each sees only their own

    # The calendar's 成绩查询 phase opens tomorrow: published, yet the candidate reads when.
    opens = Timestamp(seconds=int(time.time()) + 86400)
    deliver(rstack.results, reg_ev.CalendarPhaseChanged(phase="score_publication", opens_at=opens, version=1))
    html = page(client, "/results")
    assert text_of(html, "res-no-scores").startswith("成绩查询将于") and 'id="res-rank"' not in html
    assert text_of(page(client, "/results/bands"), "res-bands-none").startswith("成绩查询将于")


def test_runs_returns_and_solicitation_through_the_pages(rstack: ResultsStack) -> None:
    folks = people()
    h = rstack.results
    h.plan(PLAN, NAMES)
    for p in folks:
        h.confirm(p)
    h.publish_scores(folks)
    prov = staff(rstack, "prov01", "province")
    form = page(prov, "/admin/results/settings")
    assert 'id="res-batch-jdlk"' in form and 'id="res-batch-ordinary"' in form
    saved = post(
        prov,
        "/admin/results/settings",
        "/admin/results/settings",
        {
            "b_jdlk_position": "1",
            "b_jdlk_ratio": "100",
            "b_jdlk_lines": "01=150",
            "b_ordinary_position": "2",
            "b_ordinary_ratio": "100",
            "b_ordinary_lines": "01=180",
            "b_ordinary_solicitation": "1",
            "tie_break": "专业课,公共课",
            "random_seed": "2026",
        },
    )
    assert saved.status_code == 302
    wrong = post(
        prov,
        "/admin/results/settings",
        "/admin/results/settings",
        {"b_jdlk_position": "1", "b_jdlk_ratio": "300", "b_ordinary_position": "2", "b_ordinary_lines": "01=x"},
    )
    assert wrong.status_code == 400 and "控制线须为整数" in wrong.get_data(as_text=True)

    client = candidate(rstack, folks[0].no)
    assert 'id="res-no-admission"' in page(client, "/results")
    for label in ("建档立卡专项批本科", "普通批本科"):  # nobody is 建档立卡: the first places nobody
        started = post(prov, "/admin/results/runs", "/admin/results/runs", {})
        assert started.status_code == 302
        run_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        assert f"已公布：{label}" not in page(client, "/results")  # a dry run is invisible
        assert post(prov, "/admin/results/runs", f"/admin/results/runs/{run_id}/publish", {}).status_code == 302

    run = page(prov, f"/admin/results/runs/{run_id}?candidate_no={folks[2].no}")
    assert "平行志愿A 已满: 最低投档分 245；平行志愿B 投档" in text_of(run, "res-explain-text")
    assert "太原理工大学" in run and "山西大学" in run
    html = page(client, "/results")
    assert text_of(html, "res-dispatched") == "已投档（院校审核中）"
    assert "太原理工大学" in text_of(html, "res-institution")

    # 退档 during the review window (the province for the institution), then 征集志愿.
    h.review_window(1)
    returned = post(
        prov,
        "/admin/results/review",
        "/admin/results/returns",
        {"candidate_no": folks[0].no, "reason": "专业课成绩未达院校要求"},
    )
    assert returned.status_code == 302
    html = page(client, "/results")
    assert text_of(html, "res-returned") == "已被退档" and "专业课成绩未达院校要求" in html
    h.close_windows(1)
    opened = post(
        prov,
        "/admin/results/review",
        "/admin/results/solicitation/ordinary",
        {"opens_at": "2020-01-01T08:00", "closes_at": "2099-01-01T08:00"},
    )
    assert opened.status_code == 302
    html = page(client, "/results")
    assert 'id="res-solicit-link-ordinary"' in html
    form = page(client, "/results/solicitation/ordinary")
    assert "不能再次填报" in form and 'value="10112|01"' not in form  # the plan that returned them
    rejected = post(client, "/results/solicitation/ordinary", "/results/solicitation/ordinary", {"pick_A": "10112|01"})
    assert rejected.status_code == 400 and "不能填报已将您退档的院校专业" in rejected.get_data(as_text=True)
    third = candidate(rstack, folks[2].no)
    assert "您已投档，不能填报征集志愿" in page(third, "/results/solicitation/ordinary")
    fifth = candidate(rstack, folks[4].no)
    filled = post(fifth, "/results/solicitation/ordinary", "/results/solicitation/ordinary", {"pick_A": "10112|01"})
    assert filled.status_code == 302
    assert "征集志愿已提交" in page(fifth, filled.headers["Location"])
    assert "您已提交征集志愿（第1次）" in page(fifth, "/results")
    h.close_windows(1)
    started = post(prov, "/admin/results/runs", "/admin/results/runs", {})
    run_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert post(prov, "/admin/results/runs", f"/admin/results/runs/{run_id}/publish", {}).status_code == 302
    html = page(fifth, "/results")
    assert "普通批本科（征集志愿）" in html and "太原理工大学" in text_of(html, "res-institution")
    assert text_of(page(client, "/results"), "res-not-dispatched") == "未录取"
    below = candidate(rstack, folks[3].no)
    assert "投档总分低于本批次 01 类控制线 180" in page(below, "/results/solicitation/ordinary")
    assert "res-solicit-form" not in page(below, "/results/solicitation/ordinary")

    # City staff: lookups in their city only; no province pages.
    city = staff(rstack, "city01", "city", "01")
    menu = page(city, "/admin")
    assert "成绩与录取查询" in menu and "成绩导入与发布" not in menu
    found = page(city, f"/admin/results/lookup?candidate_no={folks[1].no}")
    assert "245" in found and "已投档" in found
    assert page(city, "/admin/results/scores", status=403)
    far = number(1, point="0205")
    h.confirm(Person(far))
    assert "超出管理范围" in page(city, f"/admin/results/lookup?candidate_no={far}", status=403)
    assert "被退档: 专业课成绩未达院校要求" in page(city, f"/admin/results/lookup?candidate_no={folks[0].no}")
    audit = page(prov, "/admin/results/audit")
    assert "发布投档结果" in audit and "退档" in audit and "发布征集计划" in audit


def test_pages_need_the_right_session(rstack: ResultsStack) -> None:
    anonymous = rstack.client()
    assert anonymous.get("/results").status_code == 302
    assert anonymous.get("/admin/results/scores").status_code == 302
    client = candidate(rstack, number(1))
    assert client.get("/admin/results/runs").status_code == 302  # the staff side wants a staff session
    assert client.post("/results/solicitation/ordinary", data={"pick_A": "1|1"}).status_code == 403  # no CSRF token
