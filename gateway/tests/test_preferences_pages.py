"""招生计划 and 志愿信息 through the gateway, against real auth and preferences services."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import select

from gateway.app import create_app
from gateway.tests.conftest import CANDIDATE, NEW_PASSWORD, Stack, form_with_captcha, hidden, login
from services.auth.adapters.tables import Session
from services.auth.main import SPEC as AUTH
from services.preferences.tests.helpers import OTHER, PLAN, make_eligible, plan_rows, window
from services.preferences.tests.helpers import WITHOUT_CONSUMERS as PREFERENCES
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.preferences.v1 import preferences_pb2 as pb
from zsb.preferences.v1 import preferences_pb2_grpc


class PrefStack(Stack):
    preferences: ServiceRuntime

    def prefs_stub(self) -> preferences_pb2_grpc.PreferencesServiceStub:
        return preferences_pb2_grpc.PreferencesServiceStub(grpc.insecure_channel(f"127.0.0.1:{self.preferences.port}"))

    def province(self) -> tuple:
        return self.bearer("province", "prov01")

    def import_plan(self) -> None:
        assert not self.prefs_stub().ImportPlan(pb.ImportPlanRequest(rows=plan_rows()), metadata=self.province()).errors

    def schedule(self, code: str = "ordinary", hours_from: float = -1, hours_to: float = 1) -> None:
        opens, closes = window(hours_from, hours_to)
        req = pb.ScheduleBatchRequest(code=code, opens_at=opens, closes_at=closes)
        self.prefs_stub().ScheduleBatch(req, metadata=self.province())

    def versions(self, number: str = CANDIDATE) -> list[pb.Version]:
        req = pb.ListVersionsRequest(batch_code="ordinary")
        meta = self.bearer("candidate", number, number[6:8], number[6:10])
        return list(self.prefs_stub().ListVersions(req, metadata=meta).versions)


@pytest.fixture
def pstack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[PrefStack]:
    auth_settings = service_settings("auth", sqlite_url)
    auth = ServiceRuntime(AUTH, auth_settings)
    preferences = ServiceRuntime(PREFERENCES, service_settings("preferences", f"sqlite:///{tmp_path / 'prefs.db'}"))
    auth_port, prefs_port = auth.start(), preferences.start()
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=f"auth=127.0.0.1:{auth_port},preferences=127.0.0.1:{prefs_port}",
        )
    )
    app.config["TESTING"] = True
    stack = PrefStack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    stack.preferences = preferences
    yield stack
    preferences.stop(grace=0)
    auth.stop(grace=0)


def candidate(stack: PrefStack, number: str = CANDIDATE, phone: str = "13812345678") -> FlaskClient:
    """A candidate logged in, past the first-login password change."""
    client = stack.client()
    initial = stack.import_candidate(number, phone)
    assert login(stack, client, initial, number).status_code == 302
    csrf = hidden(client.get("/password/change").get_data(as_text=True))["csrf_token"]
    data = {"csrf_token": csrf, "old_password": initial, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert client.post("/password/change", data=data).status_code == 302
    return client


def ready(stack: PrefStack, number: str = CANDIDATE, **kw: object) -> FlaskClient:
    stack.import_plan()
    stack.schedule()
    make_eligible(stack.preferences.ctx.db, number, **kw)  # type: ignore[arg-type]
    return candidate(stack, number)


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the preferences form (csrf_token, submission_id)."""
    return dict(re.findall(r'name="(csrf_token|submission_id)" value="([^"]*)"', html))


def filled(html: str, *pairs: tuple[str, str]) -> dict[str, str]:
    data = form_fields(html)
    for slot, (inst, major) in zip("ABCDEFGH", pairs, strict=False):
        data[f"inst_{slot}"] = inst
        data[f"major_{slot}"] = f"{inst}|{major}" if major else ""
    return data


def page(client: FlaskClient, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    return resp.get_data(as_text=True)


# ---- 招生计划 ----


def test_plan_page_shows_the_candidates_own_category_and_searches(pstack: PrefStack) -> None:
    pstack.import_plan()
    client = candidate(pstack)
    assert "完成“信息确认”后" in page(client, "/preferences/plan")
    make_eligible(pstack.preferences.ctx.db, CANDIDATE, identity=False, paid=False, qualified=False)
    html = page(client, "/preferences/plan")
    assert "山西财经大学" in html and "金融学" in html and "计算机科学与技术" not in html and "汉语言文学" not in html
    assert 'id="plan-jdlk"' in html and 'id="plan-ordinary"' in html
    found = page(client, "/preferences/plan?q=运城&batch=ordinary")
    assert "运城学院" in found and "山西大学" not in found and 'id="plan-jdlk"' not in found
    assert "没有符合条件的招生计划" in page(client, "/preferences/plan?q=不存在的学校")
    assert "招生计划" in page(client, "/home") and "/preferences/plan" in page(client, "/home")


# ---- 志愿信息: eligibility and windows ----


def test_an_ineligible_candidate_is_told_what_is_missing(pstack: PrefStack) -> None:
    pstack.import_plan()
    pstack.schedule()
    make_eligible(pstack.preferences.ctx.db, CANDIDATE, paid=False)
    client = candidate(pstack)
    html = page(client, "/preferences")
    assert "报名费尚未缴纳" in html and 'id="edit-ordinary"' not in html
    edit = page(client, "/preferences/ordinary/edit")
    assert "暂不能填报志愿：报名费尚未缴纳" in edit and 'id="pref-form"' not in edit


def test_the_jdlk_batch_is_only_for_poverty_registered_candidates(pstack: PrefStack) -> None:
    client = ready(pstack)
    pstack.schedule("jdlk")
    html = page(client, "/preferences")
    assert 'id="edit-ordinary"' in html and 'id="edit-jdlk"' not in html
    assert "建档立卡专项批仅限建档立卡贫困家庭考生填报" in html


def test_outside_the_window_the_page_is_read_only_and_says_when(pstack: PrefStack) -> None:
    client = ready(pstack)
    html = page(client, "/preferences/ordinary/edit")
    data = filled(html, ("10108", "01"))
    pstack.schedule(hours_from=3, hours_to=30)
    later = page(client, "/preferences/ordinary/edit")
    assert 'id="pref-form"' not in later and "本批次尚未开放填报，将于" in later
    assert "尚未开放填报，将于" in page(client, "/preferences")
    resp = client.post("/preferences/ordinary", data=data)  # the form opened while the window was open
    assert resp.status_code == 409 and "本批次尚未开放填报" in resp.get_data(as_text=True)
    pstack.schedule(hours_from=-30, hours_to=-3)
    closed = page(client, "/preferences/ordinary/edit")
    assert "填报已于" in closed and "结束，不能再提交或修改" in closed and 'id="pref-form"' not in closed
    assert pstack.versions() == []


# ---- 志愿信息: the form ----


def test_the_form_has_eight_rows_dialog_markup_and_the_save_warning(pstack: PrefStack) -> None:
    client = ready(pstack)
    html = page(client, "/preferences/ordinary/edit")
    for slot in "ABCDEFGH":
        for element in (f'id="inst-{slot}"', f'id="inst-{slot}-box"', f'id="major-{slot}"', f'id="clear-{slot}"'):
            assert element in html
        assert f'<label class="pref-fallback-label" for="inst-{slot}">平行志愿{slot}院校</label>' in html
    assert '<dialog id="pref-dialog"' in html and 'aria-labelledby="pref-dialog-title"' in html
    assert '<th scope="col">代码</th><th scope="col">名称</th><th scope="col">选择</th>' in html
    assert 'id="submit-preferences"' in html and "确认提交" in html
    assert "所填志愿须点击页面下方的“确认提交”后才会保存" in html
    assert '<option value="10125" data-name="山西财经大学">10125 山西财经大学</option>' in html
    assert "汉语言文学" not in html and "计算机科学与技术" not in html  # other categories
    assert 'data-institution="10125"' in html and 'value="10125|02"' in html
    idle = re.search(r'data-idle-seconds="(\d+)" data-warn-seconds="(\d+)"', html)
    assert idle and 880 <= int(idle.group(1)) <= 900 and idle.group(2) == "120"
    assert "/static/preferences.js" in html and "安全退出" in html and 'id="pref-home"' in html


def test_submit_lands_on_view_then_modify_and_history(pstack: PrefStack) -> None:
    client = ready(pstack)
    html = page(client, "/preferences/ordinary/edit")
    resp = client.post("/preferences/ordinary", data=filled(html, ("10125", "01"), ("10108", "02")))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/preferences/ordinary?submitted=1")
    view = page(client, resp.headers["Location"])
    assert "志愿已提交成功（第1次提交）" in view and "山西财经大学" in view and "财务管理" in view
    assert 'id="edit-ordinary"' in view and "修改信息" in view
    edit = page(client, "/preferences/ordinary/edit")
    assert '<option value="10125" data-name="山西财经大学" selected>' in edit  # 修改信息 reopens it filled
    assert 'value="10108|02" data-code="02" data-name="财务管理" selected' in edit
    assert form_fields(edit)["submission_id"] != form_fields(html)["submission_id"]
    client.post("/preferences/ordinary", data=filled(edit, ("10126", "03")))
    view = page(client, "/preferences/ordinary")
    assert view.index("第2次提交") < view.index("第1次提交")
    assert re.search(r"第2次提交　\d{4}-\d\d-\d\d \d\d:\d\d:\d\d（当前有效）", view)
    # Marked current three times: the table on top, and the history entry's summary and table.
    assert "第1次提交　" in view and view.count("（当前有效）") == 3
    assert [v.number for v in pstack.versions()] == [2, 1]
    assert "已提交（第2次" in page(client, "/preferences")


def test_rule_violations_are_shown_per_row_and_nothing_is_saved(pstack: PrefStack) -> None:
    client = ready(pstack)
    html = page(client, "/preferences/ordinary/edit")
    data = filled(html, ("10108", "01"), ("", ""), ("10125", "01"), ("10125", "01"))
    data["inst_E"], data["major_E"] = "10108", "10125|02"
    resp = client.post("/preferences/ordinary", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "提交未成功，志愿未保存" in body
    assert 'id="inst-B-error">平行志愿B未填写：请从平行志愿A起依次填报，中间不能空缺' in body
    assert 'id="major-D-error">平行志愿D与平行志愿C的院校和专业相同，同一批次不能重复填报' in body
    assert 'id="major-E-error">平行志愿E：所选专业不属于所选院校，请重新选择专业' in body
    assert '<a href="#inst-B">' in body and 'aria-invalid="true" aria-describedby="major-D-error"' in body
    assert '<option value="10125" data-name="山西财经大学" selected>' in body  # what was chosen stays
    assert form_fields(body)["submission_id"] == data["submission_id"]
    assert pstack.versions() == []


def test_clear_without_javascript_empties_the_row_and_saves_nothing(pstack: PrefStack) -> None:
    client = ready(pstack)
    html = page(client, "/preferences/ordinary/edit")
    data = {**filled(html, ("10108", "01"), ("10125", "02")), "clear": "B"}
    resp = client.post("/preferences/ordinary", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "已清空平行志愿B（尚未保存" in body
    assert 'value="10108|01" data-code="01" data-name="会计学" selected' in body
    assert 'value="10125|02" data-code="02" data-name="金融学" selected' not in body
    assert pstack.versions() == []


def test_a_retried_post_is_saved_once(pstack: PrefStack) -> None:
    client = ready(pstack)
    data = filled(page(client, "/preferences/ordinary/edit"), ("10108", "01"))
    first = client.post("/preferences/ordinary", data=data)
    again = client.post("/preferences/ordinary", data=data)  # the browser resends after a lost answer
    assert first.headers["Location"] == again.headers["Location"]
    assert len(pstack.versions()) == 1
    changed = client.post("/preferences/ordinary", data={**data, "inst_A": "10125", "major_A": "10125|01"})
    body = changed.get_data(as_text=True)
    assert changed.status_code == 409 and "该页面的志愿已经提交过" in body
    assert form_fields(body)["submission_id"] != data["submission_id"]  # the next 确认提交 counts
    assert len(pstack.versions()) == 1


def test_a_candidate_never_sees_another_candidates_preferences(pstack: PrefStack) -> None:
    client = ready(pstack)
    client.post("/preferences/ordinary", data=filled(page(client, "/preferences/ordinary/edit"), ("10126", "02")))
    make_eligible(pstack.preferences.ctx.db, OTHER)
    other = candidate(pstack, OTHER, phone="13812345679")
    html = page(other, "/preferences/ordinary")
    assert "本批次尚未提交志愿" in html and "运城学院" not in html
    assert "运城学院" not in page(other, "/preferences/ordinary?candidate_no=" + CANDIDATE)
    assert "运城学院" in page(client, "/preferences/ordinary")


def test_pages_need_a_candidate_session_and_csrf(pstack: PrefStack) -> None:
    anonymous = pstack.client()
    assert anonymous.get("/preferences").status_code == 302
    assert anonymous.get("/api/v1/preferences/keepalive").status_code == 401
    client = ready(pstack)
    data = filled(page(client, "/preferences/ordinary/edit"), ("10108", "01"))
    assert client.post("/preferences/ordinary", data={**data, "csrf_token": "forged"}).status_code == 403
    assert client.get("/preferences/no-such/edit").status_code == 404
    assert client.get("/preferences/nope/edit").status_code == 404
    assert pstack.versions() == []


def test_keepalive_and_the_inactivity_logout(pstack: PrefStack) -> None:
    client = ready(pstack)
    alive = client.get("/api/v1/preferences/keepalive")
    assert alive.status_code == 200 and 880 <= alive.json["idle_seconds"] <= 900
    with pstack.auth.ctx.db.unit_of_work() as session:
        for s in session.scalars(select(Session)):
            s.last_seen_at = s.last_seen_at.replace(year=2000)
    resp = client.get("/preferences/ordinary/edit")
    assert resp.status_code == 302 and "notice=idle" in resp.headers["Location"]
    assert "长时间未操作，已自动退出" in client.get(resp.headers["Location"]).get_data(as_text=True)


# ---- admin: the province ----


def province(stack: PrefStack) -> FlaskClient:
    password = stack.staff("prov01", "province")
    client = stack.client()
    fields = form_with_captcha(stack, client, "/admin/login")
    client.post("/admin/login", data={**fields, "username": "prov01", "password": password})
    csrf = hidden(client.get("/admin/password").get_data(as_text=True))["csrf_token"]
    data = {
        "csrf_token": csrf,
        "old_password": password,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    assert client.post("/admin/password", data=data).status_code == 302
    return client


HEADER = "批次,院校代号,院校名称,专业代号,专业名称,报考专业类别,计划数\n"


def upload(client: FlaskClient, data: bytes, name: str):
    csrf = hidden(client.get("/admin/preferences/plan").get_data(as_text=True))["csrf_token"]
    return client.post(
        "/admin/preferences/plan",
        data={"csrf_token": csrf, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_plan_import_reports_every_bad_row_then_imports_excel(pstack: PrefStack) -> None:
    client = province(pstack)
    assert "招生计划导入" in page(client, "/admin") and "志愿批次顺序" in page(client, "/admin")
    bad = HEADER + "普通批本科,10108,山西大学,01,会计学,01,30\n提前批,10108,山西大学,02,财务管理,01,x\n"
    resp = upload(client, bad.encode(), "plan.csv")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "共2处错误" in body and "本次未导入任何数据" in body
    assert "<td>3</td><td>批次</td><td>批次不正确，应为建档立卡专项批本科或普通批本科</td>" in body
    assert "<td>3</td><td>计划数</td><td>计划数应为1-99999的整数</td>" in body
    assert "没有招生计划数据" in body
    missing = upload(client, "院校代号,院校名称\n10108,山西大学\n".encode(), "plan.csv")
    assert missing.status_code == 400 and "缺少列：批次、专业代号、专业名称、报考专业类别、计划数" in missing.get_data(
        as_text=True
    )
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    for line in PLAN:
        sheet.append([*line[:6], int(line[6])])
    out = io.BytesIO()
    book.save(out)
    ok = upload(client, out.getvalue(), "plan.xlsx")
    text = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "导入成功（第1版）：院校5所，专业12个，计划14条，计划数合计282人" in text
    assert "<td>运城学院</td>" in text


def test_the_province_orders_batches_audited_and_sets_windows_on_the_calendar_page(pstack: PrefStack) -> None:
    client = province(pstack)
    pstack.schedule("ordinary", hours_from=2, hours_to=30)
    html = page(client, "/admin/preferences/batches")
    csrf = hidden(html)["csrf_token"]
    # The windows are shown here and set on the calendar page (gateway/tests/test_calendar_pages.py).
    assert 'href="/admin/calendar#calendar-batches"' in html and "尚未开放填报，将于" in html
    assert 'name="opens_at"' not in html
    moved = client.post("/admin/preferences/batches/ordinary", data={"csrf_token": csrf, "opens_at": "2026-07-01"})
    assert moved.status_code == 404
    order = client.post(
        "/admin/preferences/batches/order", data={"csrf_token": csrf, "position_1": "ordinary", "position_2": "jdlk"}
    )
    assert order.status_code == 302
    html = page(client, "/admin/preferences/batches")
    assert html.index("第1批：普通批本科") < html.index("第2批：建档立卡专项批本科") and "调整批次顺序" in html


def test_other_staff_cannot_import_or_schedule(pstack: PrefStack) -> None:
    password = pstack.staff("point0113", "point", point="0113")
    client = pstack.client()
    fields = form_with_captcha(pstack, client, "/admin/login")
    client.post("/admin/login", data={**fields, "username": "point0113", "password": password})
    csrf = hidden(client.get("/admin/password").get_data(as_text=True))["csrf_token"]
    data = {
        "csrf_token": csrf,
        "old_password": password,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    client.post("/admin/password", data=data)
    assert "招生计划导入" not in page(client, "/admin")
    assert upload(client, (HEADER + "普通批本科,10108,山西大学,01,会计学,01,30\n").encode(), "p.csv").status_code == 403
    assert client.get("/admin/preferences/batches").status_code == 403
