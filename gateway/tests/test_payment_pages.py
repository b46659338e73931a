"""网上支付 through the gateway: the candidate's pages, the providers' public callbacks, the admin
pages; against the real auth and payment services in-process and the sandbox as a process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.tests.conftest import NEW_PASSWORD, Stack, form_with_captcha, hidden, login
from services.auth.main import SPEC as AUTH
from services.payment.sandbox.keys import SandboxKeys
from services.payment.sandbox.testing import SandboxProcess, wait_until
from services.payment.service.settlement import aware
from services.payment.tests import forge
from services.payment.tests.support import Stack as PaymentStack
from services.payment.tests.support import new_candidate_no, payment_stack
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.payment.v1 import payment_pb2 as pb


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(tmp_path_factory.mktemp("sandbox"), retry_scale=0.002) as process:
        yield process


@dataclass
class Site:
    gw: Stack  # the gateway app and the auth service
    pay: PaymentStack  # the payment service, its callback front and the sandbox

    def candidate(self, number: str) -> FlaskClient:
        """A candidate who logged in and changed the initial password."""
        client = self.gw.client()
        initial = self.gw.import_candidate(number)
        assert login(self.gw, client, initial, number).status_code == 302
        csrf = hidden(client.get("/password/change").get_data(as_text=True))["csrf_token"]
        client.post(
            "/password/change",
            data={
                "csrf_token": csrf,
                "old_password": initial,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
        return client

    def staff(self, username: str, role: str, city: str = "", point: str = "") -> FlaskClient:
        password = self.gw.staff(username, role, city, point)
        client = self.gw.client()
        fields = form_with_captcha(self.gw, client, "/admin/login")
        client.post("/admin/login", data={**fields, "username": username, "password": password})
        csrf = hidden(client.get("/admin/password").get_data(as_text=True))["csrf_token"]
        client.post(
            "/admin/password",
            data={
                "csrf_token": csrf,
                "old_password": password,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
        return client


@pytest.fixture
def site(service_settings, sqlite_url: str, tmp_path: Path, sandbox: SandboxProcess, bearer) -> Iterator[Site]:
    auth_settings = service_settings("auth", sqlite_url)
    auth = ServiceRuntime(AUTH, auth_settings)
    auth_port = auth.start()
    try:
        with payment_stack(service_settings, f"sqlite:///{tmp_path / 'payment.db'}", sandbox, bearer) as pay:
            app = create_app(
                Settings(
                    service_name="gateway",
                    secret_key="test-secret",
                    service_addresses=f"auth=127.0.0.1:{auth_port},payment=127.0.0.1:{pay.runtime.port}",
                )
            )
            app.config["TESTING"] = True
            gw = Stack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
            yield Site(gw, pay)
    finally:
        auth.stop(grace=0)


def start(client: FlaskClient, provider: str):
    csrf = hidden(client.get("/payment").get_data(as_text=True))["csrf_token"]
    return client.post("/payment/start", data={"csrf_token": csrf, "provider": provider})


def test_wechat_qr_page_polls_until_the_verified_payment(site: Site) -> None:
    me = new_candidate_no()
    client = site.candidate(me)
    page = client.get("/payment").get_data(as_text=True)
    assert "网上支付" in page and "请先完成“信息确认”" in page and "立即支付" not in page
    assert '<a href="/registration">返回报考信息</a>' in page
    site.pay.eligible(me)
    page = client.get("/payment").get_data(as_text=True)
    assert "¥150.00" in page and "普通类" in page and "立即支付" in page and "未支付" in page
    for label in ("微信支付", "支付宝支付", "银联支付"):
        assert label in page

    resp = start(client, "wechat")
    assert resp.status_code == 302
    order_url = resp.headers["Location"]
    order_no = re.search(r"/payment/orders/(\w+)\?go=1$", order_url).group(1)
    page = client.get(order_url).get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page and "请使用微信扫一扫完成支付" in page and order_no in page
    assert "/payment/pay.js" in page and f'data-url="/api/v1/payment/orders/{order_no}"' in page
    script = client.get("/payment/pay.js")
    assert script.status_code == 200 and script.mimetype == "application/javascript" and "fetch(" in script.text
    status = client.get(f"/api/v1/payment/orders/{order_no}").json
    assert status["open"] and not status["paid"] and status["state_label"] == "待支付"

    pay_page = re.search(r'<a href="([^"]+)" rel="noopener noreferrer">无法扫码', page).group(1)
    assert site.pay.press_pay(requests.get(pay_page, timeout=10)).status_code == 200
    wait_until(lambda: client.get(f"/api/v1/payment/orders/{order_no}").json["paid"])
    page = client.get("/payment").get_data(as_text=True)
    assert "支付成功" in page and order_no in page and "立即支付" not in page


def test_alipay_link_and_unionpay_form_go_to_the_provider(site: Site) -> None:
    me = new_candidate_no()
    client = site.candidate(me)
    site.pay.eligible(me)
    sandbox_origin = site.pay.sandbox.base_url

    alipay = client.get(start(client, "alipay").headers["Location"])
    link = re.search(r'<a id="provider-link" class="button primary" href="([^"]+)"', alipay.get_data(as_text=True))
    assert link and link.group(1).replace("&amp;", "&").startswith(f"{sandbox_origin}/alipay/gateway.do?")
    assert alipay.headers["Content-Security-Policy"].endswith("form-action 'self'")

    unionpay = client.get(start(client, "unionpay").headers["Location"])
    html = unionpay.get_data(as_text=True)
    form = re.search(r'<form id="provider-form" method="post" action="([^"]+)" data-auto="1">', html)
    assert form and form.group(1) == f"{sandbox_origin}/unionpay/gateway/api/frontTransReq.do"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    assert (
        fields["txnAmt"] == "15000" and fields["signature"] and fields["backUrl"].endswith("/payment/notify/unionpay")
    )
    # Only this page may post to the provider's origin; every other page keeps form-action 'self'.
    assert unionpay.headers["Content-Security-Policy"].endswith(f"form-action 'self' {sandbox_origin}")
    revisit = client.get(f"/payment/orders/{fields['orderId']}")
    assert 'data-auto="1"' not in revisit.get_data(as_text=True)  # hands over once, not on every visit
    page = client.get("/payment").get_data(as_text=True)
    assert "您有一笔待支付订单" in page and "银联支付" in page


def test_start_needs_the_session_and_its_csrf_token(site: Site) -> None:
    me = new_candidate_no()
    client = site.candidate(me)
    site.pay.eligible(me)
    assert client.post("/payment/start", data={"provider": "wechat"}).status_code == 403
    anonymous = site.gw.client()
    assert anonymous.get("/payment").status_code == 302
    assert anonymous.get("/api/v1/payment/orders/ZSB2026010100000000").status_code == 401
    assert site.pay.events("PaymentSucceeded") == []
    unknown = start(client, "bitcoin")
    assert unknown.status_code == 400 and "请选择支付方式" in unknown.get_data(as_text=True)
    # A refusal is shown from the service's answer, never from the URL (no text injection).
    assert "转账" not in client.get("/payment?message=请转账到").get_data(as_text=True)
    start(client, "wechat")
    site.pay.abandon(me)
    refused = start(client, "alipay")
    assert refused.status_code == 409 and "您已放弃报名，不能支付" in refused.get_data(as_text=True)


def test_a_candidate_cannot_see_or_pay_someone_elses_order(site: Site) -> None:
    me, other = new_candidate_no(), new_candidate_no()
    mine = site.candidate(me)
    site.pay.eligible(me)
    order_no = re.search(r"/payment/orders/(\w+)", start(mine, "wechat").headers["Location"]).group(1)
    theirs = site.candidate(other)
    site.pay.eligible(other)
    page = theirs.get(f"/payment/orders/{order_no}")
    assert page.status_code == 404 and order_no not in page.get_data(as_text=True)
    assert theirs.get(f"/api/v1/payment/orders/{order_no}").status_code == 404
    assert theirs.get("/payment/orders/..%2F..%2Fadmin").status_code == 404


REPLIES = {  # provider: (success, failure) exactly as each documents them
    "wechat": ((204, b""), (500, b'{"code": "FAIL", "message": "forged_signature"}')),
    "alipay": ((200, b"success"), (200, b"failure")),
    "unionpay": ((200, b"ok"), (500, b"fail")),
}


@pytest.mark.parametrize("provider", list(REPLIES))
def test_callbacks_are_public_and_reply_exactly(site: Site, provider: str) -> None:
    success, failure = REPLIES[provider]
    me = new_candidate_no()
    site.pay.eligible(me)
    order = site.pay.start(me, provider)
    keys = SandboxKeys.load_or_create(site.pay.sandbox.state_dir)
    created = aware(site.pay.order(order.order_no).created_at)
    headers, payload = forge.genuine(keys, forge.Payment(provider, order.order_no, 15000, created))
    bare = site.gw.client()  # a provider: no cookie, no CSRF token, its own Origin
    resp = bare.post(
        f"/payment/notify/{provider}", data=payload, headers={**headers, "Origin": "https://api.example.com"}
    )
    assert (resp.status_code, resp.data) == success
    assert site.pay.order(order.order_no).state == "paid"
    forged_headers, forged_body = forge.forged((headers, payload), provider)
    refused = bare.post(f"/payment/notify/{provider}", data=forged_body, headers=forged_headers)
    assert (refused.status_code, refused.data) == failure
    assert bare.get(f"/payment/notify/{provider}").status_code == 405
    assert len(site.pay.events("PaymentSucceeded")) == 1


def test_callback_when_the_payment_service_is_down(site: Site) -> None:
    app = create_app(Settings(service_name="gateway", secret_key="x", service_addresses="payment=127.0.0.1:9"))
    resp = app.test_client().post("/payment/notify/wechat", data=b"{}", headers={"Content-Type": "application/json"})
    assert (resp.status_code, resp.data) == (500, b"fail")  # every provider sends it again


def test_admin_pages_for_the_province(site: Site) -> None:
    me = new_candidate_no()
    site.pay.eligible(me)
    order = site.pay.pay(me, "alipay")
    site.pay.wait_state(order.order_no, "paid")
    province = site.staff("sheng01", "province")
    home = province.get("/admin").get_data(as_text=True)
    for label in ("缴费订单", "报名费标准", "支付对账", "支付告警"):
        assert label in home

    orders = province.get(f"/admin/payment/orders?candidate_no={me}").get_data(as_text=True)
    assert order.order_no in orders and "已支付" in orders and "支付宝支付" in orders

    fees = province.get("/admin/payment/fees").get_data(as_text=True)
    assert "普通类" in fees and "150.00" in fees
    csrf = hidden(fees)["csrf_token"]
    bad = province.post(
        "/admin/payment/fees",
        data={"csrf_token": csrf, "category_code": "1", "category_name": "普通类", "amount_yuan": "1.234"},
    )
    assert bad.status_code == 400 and "金额格式不正确" in bad.get_data(as_text=True)
    ok = province.post(
        "/admin/payment/fees",
        data={"csrf_token": csrf, "category_code": "1", "category_name": "普通类", "amount_yuan": "160.5"},
    )
    assert (
        ok.status_code == 200
        and "160.50" in ok.get_data(as_text=True)
        and "报名费标准已保存" in ok.get_data(as_text=True)
    )

    page = province.get("/admin/payment/reconciliation").get_data(as_text=True)
    today = re.search(r'name="bill_date" type="date" value="([0-9-]+)"', page).group(1)
    run = province.post(
        "/admin/payment/reconciliation",
        data={"csrf_token": hidden(page)["csrf_token"], "provider": "alipay", "bill_date": today},
    )
    assert run.status_code == 302
    report = province.get(run.headers["Location"]).get_data(as_text=True)
    assert "对账结果" in report and "支付宝支付" in report
    bad_date = province.post(
        "/admin/payment/reconciliation",
        data={"csrf_token": hidden(page)["csrf_token"], "provider": "alipay", "bill_date": "x"},
    )
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.get_data(as_text=True)

    site.pay.stub.HandleNotification(pb.ProviderNotification(provider="wechat", body=b"{}"))
    alerts = province.get("/admin/payment/alerts").get_data(as_text=True)
    assert "notification_malformed" in alerts and "fee_set" in alerts


def test_admin_pages_respect_the_role(site: Site) -> None:
    point = site.staff("point0113", "point", point="0113")
    home = point.get("/admin").get_data(as_text=True)
    assert "缴费订单" in home and "报名费标准" not in home
    assert point.get("/admin/payment/orders").status_code == 200
    assert point.get("/admin/payment/fees").status_code == 200  # reading the schedule is fine
    csrf = hidden(point.get("/admin/payment/fees").get_data(as_text=True))["csrf_token"]
    denied = point.post(
        "/admin/payment/fees",
        data={"csrf_token": csrf, "category_code": "1", "category_name": "普通类", "amount_yuan": "1"},
    )
    assert denied.status_code == 403
    assert point.get("/admin/payment/reconciliation").status_code == 403
    assert point.get("/admin/payment/alerts").status_code == 403
