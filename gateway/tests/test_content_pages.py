"""Content of the home and guide pages through the gateway: the province edits, everyone reads."""

from __future__ import annotations

from gateway.app import create_app
from gateway.tests.test_registration_pages import RegStack, candidate, post, staff, text
from gateway.tests.test_registration_pages import rstack as rstack
from zsb.common.settings import Settings

ADMIN = "/admin/content"


def test_province_edits_and_the_pages_show_it(rstack: RegStack) -> None:  # noqa: F811
    anonymous = rstack.client()
    # Seeded with the texts the pages had before; no notices yet.
    assert "阅读报考须知、教育考试违规处理办法和考生承诺书。" in text(anonymous.get("/guide/process"))
    assert "《考生使用说明》由省招生考试管理中心发布" in text(anonymous.get("/guide/manual"))
    assert "暂未发布咨询电话" in text(anonymous.get("/guide/hotlines"))
    assert 'id="site-notices"' not in text(anonymous.get("/"))

    city = staff(rstack, "city01", "city", "01")
    assert post(city, f"{ADMIN}/notices", {"title": "t", "body": "b"}, page="/admin").status_code == 403

    province = staff(rstack, "sheng01", "province")
    assert post(province, f"{ADMIN}/notices", {"title": "", "body": "b"}, page=ADMIN).status_code == 400
    notice = {"title": "网上报名通知", "body": "第一段\n\n第二段", "pinned": "1"}
    saved = post(province, f"{ADMIN}/notices", notice, page=ADMIN)
    assert saved.status_code == 302
    later = {"title": "未来公告", "body": "x", "published_at": "2099-01-01T08:00"}
    assert post(province, f"{ADMIN}/notices", later, page=ADMIN).status_code == 302
    steps = "登录系统\n填写信息\n缴费"
    assert post(province, f"{ADMIN}/pages/process", {"body": steps}, page=ADMIN).status_code == 302
    assert post(province, f"{ADMIN}/pages/manual", {"body": "说明一\n\n说明二"}, page=ADMIN).status_code == 302
    bad = post(province, f"{ADMIN}/hotlines", {"hotlines": "01,0113"}, page=ADMIN)
    assert bad.status_code == 400 and "第1行" in text(bad) and "01,0113" in text(bad)  # kept as typed
    lines = "地市代码,报名点代码,电话,接听时间\n01,,0351-1234567,工作日 8:30-17:30\n01,0113,0351-7654321,"
    assert post(province, f"{ADMIN}/hotlines", {"hotlines": lines}, page=ADMIN).status_code == 302
    admin_page = text(province.get(ADMIN))
    assert "未来公告" in admin_page and "01,0113,0351-7654321," in admin_page

    login = text(anonymous.get("/"))
    assert "网上报名通知" in login and "[置顶]" in login and "<p>第二段</p>" in login
    assert "未来公告" not in login  # not yet published
    process = text(anonymous.get("/guide/process"))
    assert process.count("<li>") >= 3 and "<li>缴费</li>" in process
    assert "<p>说明二</p>" in text(anonymous.get("/guide/manual"))
    hotlines = text(anonymous.get("/guide/hotlines"))
    assert "太原市招生考试机构" in hotlines and "山西工程职业学院" in hotlines and "0351-7654321" in hotlines

    home = text(candidate(rstack).get("/home"))
    assert "网上报名通知" in home


def test_guide_pages_say_when_the_content_cannot_be_loaded() -> None:
    # The registration service at a closed port: the pages load and say so.
    app = create_app(
        Settings(service_name="gateway", secret_key="t", service_addresses="auth=127.0.0.1:9,registration=127.0.0.1:9")
    )
    client = app.test_client()
    for path in ("/guide/process", "/guide/hotlines", "/guide/manual"):
        resp = client.get(path)
        assert resp.status_code == 200 and "内容暂时无法加载" in text(resp)
