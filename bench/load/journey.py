"""A simulated candidate's journey over the gateway's pages, as a browser makes it.

Stage one: the login page (captcha answered from auth's side channel), the forced password
change, 报考须知 (waiting out each notice's countdown as the page shows it: the server enforces
10 s of reading, and a waiting candidate costs the bench nothing), 填写基本信息, 确定, 身份认证
with real faces, 网上支付 at the provider sandbox, 志愿 in the ordinary batch. Stage two, after
staff have published scores and admission: log in again, read 成绩与录取信息 and 分数段统计.
Steps that wait for another service's event (registration opening, identity and payment seeing
the confirmation, preferences seeing every fact) poll the page as a person reloading it would.
"""

from __future__ import annotations

import html
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from bench.load.client import AnswerBook, Browser, Recorder, hidden_fields, summary, until
from services.preferences.tests.helpers import EIGHT
from services.registration.tests.helpers import make_id

NEW_PASSWORD = "Load2026!secure"  # noqa: S105 - the simulated candidates' new password
NOTICES = ("instructions", "discipline", "pledge")
PHOTO_KINDS = ("portrait", "id_card", "id_card_back")
# Same-person pairs of ../shared/faces that the engine passes (docs/face-verification.md), and a
# third photo for the 国徽面, which carries no face and is not inspected.
FACE_SETS = (
    ("img13.jpg", "img14.jpg", "img8.jpg"),
    ("img18.jpg", "img19.jpg", "img9.jpg"),
    ("img8.jpg", "img9.jpg", "img15.jpg"),
    ("img14.jpg", "img13.jpg", "img18.jpg"),
    ("img19.jpg", "img18.jpg", "img13.jpg"),
)
PROVIDERS = ("wechat", "alipay", "unionpay")
RELOAD_SECONDS = 2.0  # a person reloading a page that says "please wait"
IDENTITY_POLL = 1.5  # gateway/static/identity.js
PAYMENT_POLL = 3.0  # gateway/templates/payment/pay.js
REVIEW_RELOAD = 5.0  # the page's <noscript> refresh while a case is reviewed
CLICK_SECONDS = 0.2  # from the countdown's end to the click


@dataclass(frozen=True)
class Candidate:
    index: int
    number: str
    password: str  # the initial one
    gateway: str
    automatic_identity: bool  # False: 申请人工审核 instead of the automatic comparison

    @property
    def faces(self) -> tuple[str, str, str]:
        return FACE_SETS[self.index % len(FACE_SETS)]

    def basic_info(self) -> dict[str, str]:
        """填写基本信息 for this candidate: an ID number and a phone of its own (both unique per registration)."""
        birth = date(2002, 1, 1) + timedelta(days=self.index // 500)
        id_number = make_id((self.index % 500) * 2 + 1, birth=birth.strftime("%Y%m%d"))  # odd: a man
        phone = f"139{self.index:08d}"
        return {
            "name": "考生",
            "sex": "男",
            "ethnicity": "01",
            "political_status": "03",
            "birth_date": birth.isoformat(),
            "id_number": id_number,
            "phone": phone,
            "graduated_school": "山西工程职业学院",
            "college_major_code": "530302",
            "college_major_name": "大数据与会计",
            "candidate_category": "1",
            "candidate_type": "2",
            "poverty_registered": "0",
            "claims_bonus_points": "0",
            "awards": "",
            "city_code": "01",
            "point_code": "0113",
            "major_category": "01",
            "music_test_subject": "",
            "household_province": "14",
            "household_city": "太原市",
            "household_district": "小店区",
            "recipient": "考生",
            "recipient_phone": phone,
            "postal_code": "030006",
            "mailing_address": "山西省太原市小店区坞城路92号",
            "resume-0-start": "2018-09",
            "resume-0-end": "2021-07",
            "resume-0-unit": "太原市第五中学",
            "resume-0-role": "学生",
        }

    def preferences(self) -> dict[str, str]:
        """1 to 8 distinct category-01 choices of the ordinary batch, A onwards."""
        rng = random.Random(self.index)
        picks = rng.sample(EIGHT, rng.randint(1, len(EIGHT)))
        out = {}
        for slot, (institution, major) in zip("ABCDEFGH", picks, strict=False):
            out[f"inst_{slot}"], out[f"major_{slot}"] = institution, f"{institution}|{major}"
        return out


@dataclass(frozen=True)
class Context:
    rec: Recorder
    answers: AnswerBook
    photos: dict[str, bytes]
    timeout: float  # longest wait for another service's event
    completed: list[str] = field(default_factory=list)  # 考生号 of finished journeys (list.append is atomic)


def _text(pattern: str, page: str, what: str) -> str:
    found = re.search(pattern, page)
    if found is None:
        raise ValueError(f"{what} not on the page")
    return html.unescape(found.group(1))


def log_in(b: Browser, ctx: Context, c: Candidate, password: str, to: str) -> None:
    """The login page (it draws a captcha) and the login form."""
    b.get("login_page", "/")
    fields = hidden_fields(b.last)
    answer = ctx.answers.answer(fields["captcha_id"])
    creds = {"candidate_no": c.number, "password": password, "captcha_id": fields["captcha_id"], "captcha": answer}
    b.submit("login", "/login", creds, to=to)


def first_visit(c: Candidate, ctx: Context) -> Iterator[float]:
    """Stage one, from the first login to the submitted preferences."""
    b, started = Browser(ctx.rec, c.gateway), time.monotonic()
    try:
        yield from _first_visit(b, c, ctx)
    finally:
        b.close()
    ctx.rec.lag("whole stage-1 journey", time.monotonic() - started)
    ctx.completed.append(c.number)


def _first_visit(b: Browser, c: Candidate, ctx: Context) -> Iterator[float]:
    rec = ctx.rec
    log_in(b, ctx, c, c.password, to="/password/change")
    b.get("password_page", "/password/change")
    change = {"old_password": c.password, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    sessions = b.submit("password_change", "/password/change", change, to="/account/sessions").headers["Location"]
    b.get("sessions_page", sessions)
    b.get("home", "/home")

    # 报考信息 opens once registration has auth's event about the account.
    def registration_open() -> bool:
        resp = b.get("registration_page", "/registration", expect=(200, 404))
        if resp.status_code == 404 and "正在开通" not in resp.text:
            raise rec.fail("registration_page", summary(resp.text))
        return resp.status_code == 200

    yield from until(rec, "registration_opens", registration_open, RELOAD_SECONDS, ctx.timeout)

    for i, notice in enumerate(NOTICES):
        b.get("notice_page", f"/registration/notice/{notice}")
        countdown = int(_text(r'data-countdown="(\d+)"', b.last, "the notice's countdown"))
        yield countdown + CLICK_SECONDS  # reading: the button is enabled when the page's countdown ends
        following = f"/registration/notice/{NOTICES[i + 1]}" if i + 1 < len(NOTICES) else "/registration/basic-info"
        b.submit("notice_acknowledge", f"/registration/notice/{notice}", {}, to=following)
    b.get("basic_info_page", "/registration/basic-info")
    b.submit("basic_info_save", "/registration/basic-info", c.basic_info(), to="/registration/confirm")
    b.get("confirm_page", "/registration/confirm")  # draws the 放弃报名 panel's captcha too
    b.submit("confirm", "/registration/confirm", {}, to="/registration")
    b.get("registration_page", "/registration")

    yield from identity(b, c, ctx)
    yield from payment(b, c, ctx)
    yield from preferences(b, c, ctx)


def identity(b: Browser, c: Candidate, ctx: Context) -> Iterator[float]:
    rec = ctx.rec

    def identity_open() -> bool:
        page = b.get("identity_page", "/identity").text
        return 'name="agree"' in page or 'id="file-portrait"' in page

    yield from until(rec, "identity_opens", identity_open, RELOAD_SECONDS, ctx.timeout)
    version = hidden_fields(b.last)["version"]
    b.submit("identity_consent", "/identity/consent", {"version": version, "agree": "1"}, to="/identity")
    b.get("identity_page", "/identity")
    for kind, name in zip(PHOTO_KINDS, c.faces, strict=True):
        photo = {"file": (name, ctx.photos[name], "image/jpeg")}
        b.submit("photo_upload", "/identity/photos", {"kind": kind}, to="done=uploaded", files=photo)
        b.get("identity_page", "/identity?done=uploaded")
    status: dict[str, object] = {}

    if c.automatic_identity:
        started = time.monotonic()
        b.submit("identity_start", "/identity/start", {}, to="done=started")
        b.get("identity_page", "/identity?done=started")

        def verified() -> bool:
            status.update(b.get("identity_status", "/api/v1/identity/status").json())
            return not status["verifying"]

        # From 开始认证 to the poll that shows the verdict (the page polls every 1.5 s).
        yield from until(rec, "verification", verified, IDENTITY_POLL, ctx.timeout, started, first=IDENTITY_POLL)
        if status["status"] != "passed":
            raise rec.fail("verification", f"ended as {status}")
    else:
        reason = {"reason": "证件照与身份证照片为本人，申请人工核对"}
        started = time.monotonic()
        b.submit("review_request", "/identity/review", reason, to="done=requested")

        def approved() -> bool:
            page = b.get("identity_page", "/identity").text
            if "id-rejected" in page:
                raise rec.fail("manual_review", "rejected")
            return "id-approved" in page

        yield from until(rec, "manual_review", approved, REVIEW_RELOAD, ctx.timeout, started, first=REVIEW_RELOAD)
    b.get("identity_page", "/identity")


def payment(b: Browser, c: Candidate, ctx: Context) -> Iterator[float]:
    rec = ctx.rec

    def can_pay() -> bool:
        return 'class="payment-choice"' in b.get("payment_page", "/payment").text

    yield from until(rec, "payment_opens", can_pay, RELOAD_SECONDS, ctx.timeout)
    provider = PROVIDERS[c.index % len(PROVIDERS)]
    order_url = b.submit("payment_start", "/payment/start", {"provider": provider}, to="/payment/orders/")
    order_url_path = order_url.headers["Location"]
    order_no = order_url_path.split("/payment/orders/", 1)[1].split("?", 1)[0]
    b.get("order_page", order_url_path)
    pay_at_provider(b, b.last)
    paid_at = time.monotonic()

    state: dict[str, object] = {}

    def paid() -> bool:
        state.update(b.get("payment_status", f"/api/v1/payment/orders/{order_no}").json())
        if not state["paid"] and not state["open"]:
            raise rec.fail("payment_confirmed", f"order ended as {state}")
        return bool(state["paid"])

    # From 支付 at the provider to the order page's poll that shows it paid (every 3 s).
    yield from until(rec, "payment_confirmed", paid, PAYMENT_POLL, ctx.timeout, paid_at, first=PAYMENT_POLL)
    b.get("payment_page", "/payment")


def pay_at_provider(b: Browser, order_page: str) -> None:
    """The hand-over the order page makes (WeChat's link under the QR code, Alipay's cashier link,
    UnionPay's form), then 支付 on the sandbox cashier, which notifies the gateway."""
    site = b.provider
    if 'id="provider-form"' in order_page:
        found = re.search(r'<form id="provider-form".*?</form>', order_page, re.DOTALL)
        if found is None:
            raise ValueError("the provider form is not on the order page")
        form = found.group(0)  # raw HTML: its attributes are unescaped once, where they are read
        action = _text(r'action="([^"]+)"', form, "the provider form's action")
        cashier = b.request("provider_page", "POST", action, site=site, data=hidden_fields(form))
    else:
        redirect = 'id="provider-link"' in order_page  # Alipay's cashier; else WeChat's link under the QR code
        link = r'<a id="provider-link"[^>]*href="([^"]+)"' if redirect else r'<a href="([^"]+)"[^>]*>无法扫码'
        url = _text(link, order_page, "the provider link")
        cashier = b.request("provider_page", "GET", url, expect=(200, 302), site=site)
        if cashier.status_code == 302:
            cashier = b.request("provider_page", "GET", cashier.headers["Location"], site=site)
    pay = _text(r'<form method="post" action="([^"]+)"', cashier.text, "the cashier's pay form")
    done = b.request("provider_pay", "POST", pay, site=site)
    if "支付成功" not in done.text:
        raise b.rec.fail("provider_pay", summary(done.text))


def preferences(b: Browser, c: Candidate, ctx: Context) -> Iterator[float]:
    rec = ctx.rec
    b.get("preferences_page", "/preferences")
    b.get("plan_page", "/preferences/plan")

    def form_open() -> bool:
        return 'id="pref-form"' in b.get("preferences_form", "/preferences/ordinary/edit").text

    yield from until(rec, "preferences_open", form_open, RELOAD_SECONDS, ctx.timeout)
    fields = {"submission_id": hidden_fields(b.last)["submission_id"], "action": "submit", **c.preferences()}
    saved = b.submit("preferences_submit", "/preferences/ordinary", fields, to="submitted=")
    b.get("preferences_view", saved.headers["Location"])


def return_visit(c: Candidate, ctx: Context) -> Iterator[float]:
    """Stage two: back after the admission is published, with the password set in stage one."""
    b = Browser(ctx.rec, c.gateway)
    try:
        log_in(b, ctx, c, NEW_PASSWORD, to="/home")
        b.get("home", "/home")
        page = b.get("results_page", "/results").text
        decided = 'id="res-dispatched"' in page or 'id="res-not-dispatched"' in page
        if 'id="res-score-table"' not in page or not decided:
            raise ctx.rec.fail("results_page", "no published score or admission result: " + summary(page))
        b.get("bands_page", "/results/bands")
    finally:
        b.close()
    yield from ()  # a generator, like every journey
