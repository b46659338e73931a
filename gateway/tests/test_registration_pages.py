"""The registration pages through the gateway, against real auth and registration services."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.tests.conftest import CANDIDATE, NEW_PASSWORD, Stack, form_with_captcha, hidden, logged_in_client
from services.auth.main import SPEC as AUTH
from services.registration.main import SPEC as REGISTRATION
from services.registration.service.facts import open_registration, record
from services.registration.tests.helpers import age_notices, form, make_id, pdf_bytes, png_bytes
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.common.testing import captcha_answer, sms_codes

NOTICES = ("instructions", "discipline", "pledge")
OTHER = "21145101130002"


class RegStack(Stack):
    registration: ServiceRuntime


@pytest.fixture
def rstack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[RegStack]:
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
    stack = RegStack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    stack.registration = registration
    yield stack
    registration.stop(grace=0)
    auth.stop(grace=0)


def opened(stack: RegStack, number: str = CANDIDATE) -> None:
    """The registration the account's event opens (recorded directly: the consumers have their own tests)."""
    with stack.registration.ctx.db.unit_of_work() as session:
        open_registration(session, number, "张三", number[6:10])


def candidate(stack: RegStack) -> FlaskClient:
    client = logged_in_client(stack)
    opened(stack)
    return client


def second_candidate(stack: RegStack) -> FlaskClient:
    initial = stack.import_candidate(OTHER, phone="13800000002")
    client = stack.client()
    fields = form_with_captcha(stack, client, "/")
    assert client.post("/login", data={**fields, "candidate_no": OTHER, "password": initial}).status_code == 302
    csrf = token(client, "/password/change")
    client.post(
        "/password/change",
        data={
            "csrf_token": csrf,
            "old_password": initial,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    opened(stack, OTHER)
    return client


def staff(stack: RegStack, username: str, role: str, city: str = "", point: str = "") -> FlaskClient:
    password = stack.staff(username, role, city, point)
    client = stack.client()
    fields = form_with_captcha(stack, client, "/admin/login")
    assert client.post("/admin/login", data={**fields, "username": username, "password": password}).status_code == 302
    csrf = token(client, "/admin/password")
    data = {
        "csrf_token": csrf,
        "old_password": password,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    assert client.post("/admin/password", data=data).status_code == 302
    return client


def token(client: FlaskClient, page: str) -> str:
    return hidden(client.get(page).get_data(as_text=True))["csrf_token"]


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, page: str = "/home", **kw):
    return client.post(path, data={"csrf_token": token(client, page), **(data or {})}, **kw)


def read_notices(stack: RegStack, client: FlaskClient, number: str = CANDIDATE) -> None:
    for notice in NOTICES:
        assert client.get(f"/registration/notice/{notice}").status_code == 200
        age_notices(stack.registration.ctx.db, number)
        resp = post(client, f"/registration/notice/{notice}")
        assert resp.status_code == 302, resp.get_data(as_text=True)


def form_data(raw: dict[str, Any]) -> dict[str, str]:
    data = {k: v for k, v in raw.items() if k != "resume"}
    for i, row in enumerate(raw["resume"]):
        data.update({f"resume-{i}-{part}": value for part, value in row.items()})
    return data


def save(client: FlaskClient, raw: dict[str, Any]):
    return post(client, "/registration/basic-info", form_data(raw))


def text(resp) -> str:
    return resp.get_data(as_text=True)


def flow(html: str) -> dict[str, str]:
    """Step label -> state class of the left flow chart."""
    return dict(
        (label, state)
        for state, label in re.findall(
            r'class="flow-step flow-(\w+)[^"]*"[^>]*>\s*<span[^>]*>\d</span>\s*(?:<a[^>]*>|<span>)([^<]+)<', html
        )
    )


def test_wizard_from_notices_to_confirmation(rstack: RegStack) -> None:
    client = candidate(rstack)
    home = text(client.get("/home"))
    assert "个人信息" in home and "报考信息" in home
    profile = text(client.get("/profile"))
    assert "个人信息" in profile and CANDIDATE in profile and "尚未填写报名信息" in profile
    page = text(client.get("/registration"))
    assert flow(page) == {
        "报考须知": "available",
        "填写基本信息": "locked",
        "信息确认": "locked",
        "身份认证": "locked",
        "网上支付": "locked",
        "资料上传": "locked",
        "表格下载": "locked",
    }
    assert "退出" in page and "首页" in page
    # Skipping ahead: the page sends the candidate back with the reason; a forged POST is refused.
    skipped = client.get("/registration/basic-info")
    assert skipped.status_code == 302 and "blocked=basic_info" in skipped.headers["Location"]
    assert "请先完成“报考须知”" in text(client.get(skipped.headers["Location"]))
    forged = save(client, form())
    assert forged.status_code == 409 and "请先完成“报考须知”" in text(forged)
    assert client.get("/registration/notice/pledge").headers["Location"].endswith("/registration/notice/instructions")
    assert client.get("/registration/notice/other").status_code == 404

    notice = text(client.get("/registration/notice/instructions"))
    assert "报考须知" in notice and 'data-countdown="10"' in notice and "我已知晓" in notice
    too_soon = post(client, "/registration/notice/instructions")
    assert too_soon.status_code == 409 and "秒后才能确认" in text(too_soon)
    age_notices(rstack.registration.ctx.db, CANDIDATE)
    done = post(client, "/registration/notice/instructions")
    assert done.headers["Location"].endswith("/registration/notice/discipline")
    assert "教育考试违规处理办法" in text(client.get("/registration/notice/discipline"))
    age_notices(rstack.registration.ctx.db, CANDIDATE)
    post(client, "/registration/notice/discipline")
    pledge = text(client.get("/registration/notice/pledge"))
    assert "考生承诺书" in pledge and "我同意" in pledge
    age_notices(rstack.registration.ctx.db, CANDIDATE)
    assert post(client, "/registration/notice/pledge").headers["Location"].endswith("/registration/basic-info")

    blank = text(client.get("/registration/basic-info"))
    for label in (
        "姓名",
        "身份证号",
        "报考专业(类别)",
        "财经类(01)",
        "测试主项",
        "个人简历",
        "通知书邮寄地址",
        "提交并继续",
    ):
        assert label in blank
    # Every error next to its field, the values kept as typed.
    bad = save(
        client,
        form(
            id_number="140105200309151310",
            phone="1381234",
            resume=[{"start": "2030-01", "end": "", "unit": "某校", "role": "学生"}],
        ),
    )
    html = text(bad)
    assert bad.status_code == 400 and "处需要修改" in html
    assert re.search(r'id="id_number-error"[^>]*>[^<]*校验位', html)
    assert 'id="phone-error"' in html and 'id="resume-0-start-error"' in html
    assert 'value="1381234"' in html
    # 个人简历 rows without script: add, then remove.
    added = post(client, "/registration/basic-info", {**form_data(form()), "add_row": "1"})
    assert added.status_code == 200 and text(added).count('class="resume-row"') == 2
    removed = post(client, "/registration/basic-info", {**form_data(form()), "resume-1-start": "", "remove_row": "1"})
    assert text(removed).count('class="resume-row"') == 1
    ok = save(client, form())
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/registration/confirm")

    confirm = text(client.get("/registration/confirm"))
    assert make_id(131) in confirm and "财经类(01)" in confirm and "确定" in confirm and "放弃报名" in confirm
    profile = text(client.get("/profile"))
    assert make_id(131) not in profile and "1401**********" in profile and "138****5678" in profile
    assert post(client, "/registration/confirm").status_code == 302
    page = text(client.get("/registration"))
    states = flow(page)
    assert states["报考须知"] == states["填写基本信息"] == states["信息确认"] == "done"
    assert states["身份认证"] == "available" and 'href="/identity"' in page
    # After 确定 the form is read-only and cannot be sent again.
    assert 'disabled aria-disabled="true">提交并继续' in text(client.get("/registration/basic-info"))
    again = save(client, form())
    assert again.status_code == 409 and "已确认" in text(again)


def test_a_report_locks_the_form_and_withdrawal_needs_the_province(rstack: RegStack) -> None:
    client = candidate(rstack)
    read_notices(rstack, client)
    assert save(client, form()).status_code == 302
    point = staff(rstack, "point0113", "point", point="0113")
    menu = text(point.get("/admin"))
    assert "报考资格审核" in menu and "数据上报" in menu and "报考参考数据" not in menu
    reports = text(point.get("/admin/registration/reports"))
    assert "山西工程职业学院" in reports and "上报" in reports
    outsider = staff(rstack, "point0102", "point", point="0102")
    refused = post(
        outsider, "/admin/registration/reports", {"scope": "point", "code": "0113", "action": "report"}, page="/admin"
    )
    assert refused.status_code == 403 and "超出管理范围" in text(refused)
    assert (
        post(
            point, "/admin/registration/reports", {"scope": "point", "code": "0113", "action": "report"}, page="/admin"
        ).status_code
        == 302
    )

    page = text(client.get("/registration/basic-info"))
    assert "已上报数据" in page and 'disabled aria-disabled="true">提交并继续' in page
    locked = save(client, form(graduated_school="山西职业技术学院"))
    assert locked.status_code == 409 and "已上报数据" in text(locked)
    withdraw = post(
        point, "/admin/registration/reports", {"scope": "point", "code": "0113", "action": "withdraw"}, page="/admin"
    )
    assert withdraw.status_code == 403 and "须经省招生考试管理中心同意" in text(withdraw)
    province = staff(rstack, "sheng", "province")
    assert (
        post(
            province,
            "/admin/registration/reports",
            {"scope": "point", "code": "0113", "action": "allow"},
            page="/admin",
        ).status_code
        == 302
    )
    assert "允许撤回" in text(point.get("/admin/registration/reports"))
    assert (
        post(
            point,
            "/admin/registration/reports",
            {"scope": "point", "code": "0113", "action": "withdraw"},
            page="/admin",
        ).status_code
        == 302
    )
    assert save(client, form(graduated_school="山西职业技术学院")).status_code == 302
    log = text(province.get("/admin/registration/audit"))
    assert "point_reported" in log and "withdrawal_allowed" in log and "point_report_withdrawn" in log


def test_documents_uploads_review_and_who_may_read_them(rstack: RegStack) -> None:
    client = candidate(rstack)
    read_notices(rstack, client)
    assert save(client, form(candidate_type="5")).status_code == 302
    post(client, "/registration/confirm")
    assert client.get("/registration/documents").status_code == 302  # identity and payment come first
    with rstack.registration.ctx.db.unit_of_work() as session:
        record(session, CANDIDATE, lambda r: r.record_identity_verified(r.confirmed_at))
        record(session, CANDIDATE, lambda r: r.record_payment_succeeded(r.confirmed_at))
    page = text(client.get("/registration/documents"))
    assert "义务兵材料" in page and "待上传" in page
    upload = lambda data, name, kind="conscript": post(  # noqa: E731
        client,
        "/registration/documents",
        {"kind": kind, "file": (io.BytesIO(data), name)},
        page="/registration/documents",
        content_type="multipart/form-data",
    )
    lie = upload(b"#!/bin/sh\necho not a pdf\n", "退役证.pdf")
    assert lie.status_code == 400 and "文件类型不符" in text(lie)
    assert upload(png_bytes(), "证明.png", kind="bonus_points").status_code == 409
    disguised = upload(png_bytes(), "退役证.jpg")
    assert disguised.status_code == 302 and "uploaded=1" in disguised.headers["Location"]
    assert "与文件内容（PNG）不符" in text(client.get(disguised.headers["Location"]))
    assert upload(pdf_bytes(), "退役证明.pdf").status_code == 302
    page = text(client.get("/registration/documents"))
    links = re.findall(r'href="(/registration/documents/[0-9a-f]{32})"', page)
    assert len(links) == 2
    own = client.get(links[0])
    assert own.status_code == 200 and own.mimetype == "image/png" and own.data.startswith(b"\x89PNG")
    assert "filename*=UTF-8''" in own.headers["Content-Disposition"]
    other = second_candidate(rstack)
    assert other.get(links[0]).status_code == 404
    assert post(client, "/registration/documents/submit", page="/registration/documents").status_code == 302
    assert "审核中" in text(client.get("/registration/documents"))

    reviewer = staff(rstack, "taiyuan", "city", city="01")
    queue = text(reviewer.get("/admin/registration/reviews"))
    assert CANDIDATE in queue and "退役士兵" in queue and "审核中" in queue
    detail = text(reviewer.get(f"/admin/registration/reviews/{CANDIDATE}"))
    assert "1401**********" in detail and make_id(131) not in detail
    doc_links = re.findall(r'href="(/admin/registration/documents/[0-9a-f]{32})"', detail)
    assert len(doc_links) == 2 and reviewer.get(doc_links[1]).data.startswith(b"%PDF-")
    # Staff of another city: neither the queue entry, the record, nor the files.
    datong = staff(rstack, "datong", "city", city="02")
    assert CANDIDATE not in text(datong.get("/admin/registration/reviews"))
    assert datong.get(f"/admin/registration/reviews/{CANDIDATE}").status_code == 403
    assert datong.get(doc_links[0]).status_code == 403
    # A candidate's session does not open staff URLs.
    assert client.get(doc_links[0]).status_code == 302
    no_reason = post(
        reviewer, f"/admin/registration/reviews/{CANDIDATE}", {"decision": "reject", "reason": ""}, page="/admin"
    )
    assert no_reason.status_code == 400 and 'id="reason-error"' in text(no_reason)
    post(
        reviewer,
        f"/admin/registration/reviews/{CANDIDATE}",
        {"decision": "reject", "reason": "退役证照片不清晰"},
        page="/admin",
    )
    mine = text(client.get("/registration"))
    assert flow(mine)["资料上传"] == "failed" and "退役证照片不清晰" in mine
    assert upload(jpeg := png_bytes(color="green"), "清晰.png").status_code == 302 and jpeg
    post(client, "/registration/documents/submit", page="/registration/documents")
    approved = post(reviewer, f"/admin/registration/reviews/{CANDIDATE}", {"decision": "approve"}, page="/admin")
    assert approved.status_code == 302
    assert flow(text(client.get("/registration")))["资料上传"] == "done"
    assert "review_approved" in text(reviewer.get("/admin/registration/audit"))


def test_abandoning_needs_captcha_and_sms_code_and_ends_the_flow(rstack: RegStack) -> None:
    client = candidate(rstack)
    read_notices(rstack, client)
    save(client, form())
    page = text(client.get("/registration/confirm"))
    captcha_id = hidden(page)["captcha_id"]
    wrong_captcha = post(
        client,
        "/registration/abandon/code",
        {"captcha_id": captcha_id, "captcha": "ZZZZ"},
        page="/registration/confirm",
    )
    assert wrong_captcha.status_code == 400 and "验证码错误或已过期" in text(wrong_captcha)
    assert sms_codes(rstack.sms, "13812345678") == []
    page = text(client.get("/registration/confirm"))
    captcha_id = hidden(page)["captcha_id"]
    sent = post(
        client,
        "/registration/abandon/code",
        {"captcha_id": captcha_id, "captcha": captcha_answer(rstack.answers, captcha_id)},
        page="/registration/confirm",
    )
    assert sent.status_code == 200 and "短信验证码已发送至 138****5678" in text(sent)
    (code,) = sms_codes(rstack.sms, "13812345678")
    no_agree = post(client, "/registration/abandon", {"code": code}, page="/registration/confirm")
    assert no_agree.status_code == 400 and "请确认已知晓放弃报名的后果" in text(no_agree)
    bad = f"{(int(code) + 1) % 10**6:06d}"
    wrong = post(client, "/registration/abandon", {"code": bad, "agree": "1"}, page="/registration/confirm")
    assert wrong.status_code == 400 and "验证码错误" in text(wrong)
    assert "您已放弃报名" not in text(client.get("/registration"))
    ok = post(client, "/registration/abandon", {"code": code, "agree": "1"}, page="/registration/confirm")
    assert ok.status_code == 302
    assert "您已放弃报名" in text(client.get("/registration"))
    assert client.get("/registration/notice/instructions").status_code == 302
    confirm = post(client, "/registration/confirm")
    assert confirm.status_code == 409 and "放弃报名" in text(confirm)


def test_posts_without_the_csrf_token_are_refused(rstack: RegStack) -> None:
    client = candidate(rstack)
    assert client.post("/registration/notice/instructions").status_code == 403
    assert client.post("/registration/basic-info", data=form_data(form())).status_code == 403
    assert client.post("/registration/abandon", data={"code": "123456", "agree": "1"}).status_code == 403
    province = staff(rstack, "sheng", "province")
    assert province.post(f"/admin/registration/reviews/{CANDIDATE}", data={"decision": "approve"}).status_code == 403
    assert province.post("/admin/registration/reference", data={"data_json": "{}"}).status_code == 403
    # A token of the candidate's session is not the staff session's.
    candidate_token = token(client, "/home")
    assert (
        province.post(
            "/admin/registration/reports", data={"csrf_token": candidate_token, "action": "report"}
        ).status_code
        == 403
    )


def test_reference_data_page_for_the_province(rstack: RegStack) -> None:
    import json

    province = staff(rstack, "sheng", "province")
    assert "报考参考数据" in text(province.get("/admin"))
    page = text(province.get("/admin/registration/reference"))
    assert "系统初始数据" in page and "太原市" in page
    bad = post(province, "/admin/registration/reference", {"data_json": '{"cities": 5}'}, page="/admin")
    assert bad.status_code == 400 and "参考数据有误" in text(bad)
    from services.registration.domain.reference import SEED_DICT

    data = json.loads(json.dumps(SEED_DICT))
    data["points"].append({"code": "0199", "name": "太原旅游职业学院", "city_code": "01"})
    saved = post(province, "/admin/registration/reference", {"data_json": json.dumps(data)}, page="/admin")
    assert saved.status_code == 200 and "已保存为第1版" in text(saved)
    point = staff(rstack, "point0113", "point", point="0113")
    refused = post(point, "/admin/registration/reference", {"data_json": json.dumps(data)}, page="/admin")
    assert refused.status_code == 403
    # The candidates' drop-down has the new point.
    client = candidate(rstack)
    read_notices(rstack, client)
    assert "太原旅游职业学院" in text(client.get("/registration/basic-info"))


def test_the_reviewer_grants_bonus_points_and_bad_values_are_shown_at_the_field(rstack: RegStack) -> None:
    client = candidate(rstack)
    read_notices(rstack, client)
    awards = "2023年全国职业院校技能大赛会计技能赛项一等奖"
    assert save(client, form(claims_bonus_points="1", awards=awards)).status_code == 302
    post(client, "/registration/confirm")
    with rstack.registration.ctx.db.unit_of_work() as session:
        record(session, CANDIDATE, lambda r: r.record_identity_verified(r.confirmed_at))
        record(session, CANDIDATE, lambda r: r.record_payment_succeeded(r.confirmed_at))
    material = {"kind": "bonus_points", "file": (io.BytesIO(pdf_bytes()), "获奖证书.pdf")}
    uploaded = post(
        client, "/registration/documents", material, page="/registration/documents", content_type="multipart/form-data"
    )
    assert uploaded.status_code == 302
    assert post(client, "/registration/documents/submit", page="/registration/documents").status_code == 302

    reviewer = staff(rstack, "taiyuan", "city", city="01")
    url = f"/admin/registration/reviews/{CANDIDATE}"
    page = text(reviewer.get(url))
    assert 'name="bonus_points"' in page and "填写0至10之间的整数；不予加分请填0" in page and awards in page
    wanted = {
        "": "请填写认定的奖励加分（不予加分请填0）",
        "abc": "奖励加分须为0至10之间的整数（单位：分）",
        "11": "奖励加分须为0至10之间的整数（单位：分）",
        "-3": "奖励加分须为0至10之间的整数（单位：分）",
    }
    for typed, message in wanted.items():
        resp = post(reviewer, url, {"decision": "approve", "bonus_points": typed}, page="/admin")
        html = text(resp)
        assert resp.status_code == 400, typed
        # The message sits in the field's own box, the typed value kept and the input marked invalid.
        field = re.search(r'<div class="field has-error">\s*<label for="bonus_points">.*?</div>', html, re.S)
        assert field is not None, typed
        assert f'<span id="bonus_points-error" class="error" role="alert">{message}</span>' in field.group(0)
        assert f'value="{typed}"' in field.group(0) and 'aria-invalid="true"' in field.group(0)
        assert "审核中" in html and 'id="reason-error"' not in html
    approved = post(reviewer, url, {"decision": "approve", "bonus_points": "8"}, page="/admin")
    assert approved.status_code == 302
    decided = text(reviewer.get(approved.headers["Location"]))
    assert '<dd id="granted-bonus">8 分</dd>' in decided and 'name="bonus_points"' not in decided
    assert "认定奖励加分8分（上限10分）" in text(reviewer.get("/admin/registration/audit"))
