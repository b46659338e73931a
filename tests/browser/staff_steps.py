"""What staff do in the admin console for the journeys: review materials, set up the exam and
its arrangement, the enrollment plan and the preference windows, scores and the admission.

Accounts are made by the province over gRPC (as the account import does), then everything goes
through the admin pages in the browser. Set-up that a platform needs once (the exam's sites, the
plan) is done only when the page shows it missing, so the journeys of one session share it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import fill_captcha, open_page, shot
from tests.browser.test_front_door import NEW_PASSWORD
from tests.conftest import System, wait_for
from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.clock import BEIJING

LOCAL = "%Y-%m-%dT%H:%M"  # a datetime-local input's value, Beijing time
SITE = "0101"  # the exam site of 太原 (city 01) the journeys' candidates sit in
JDLK, ORDINARY = "jdlk", "ordinary"
# The enrollment plan of the journeys (the province's import file). Category 01 is the candidates'.
PLAN_CSV = """批次,院校代号,院校名称,专业代号,专业名称,报考专业类别,计划数
建档立卡专项批本科,10101,山西大学,01,会计学,01,5
建档立卡专项批本科,10108,山西财经大学,03,财务管理,01,3
普通批本科,10101,山西大学,02,审计学,01,20
普通批本科,10108,山西财经大学,01,会计学,01,30
普通批本科,10112,太原理工大学,05,计算机科学与技术,02,20
"""


def local(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(LOCAL)


def now() -> datetime:
    return datetime.now(BEIJING)


def staff_login(page: Page, system: System, username: str, role: str, city: str = "", point: str = "") -> None:
    """A staff account made by the province over gRPC, then the admin login with its forced password change."""
    with system.channel("auth") as ch:
        initial = (
            auth_pb2_grpc.AuthServiceStub(ch)
            .CreateStaffAccount(
                auth_pb2.CreateStaffAccountRequest(
                    username=username, name="管理员", role=role, city_code=city, point_code=point
                ),
                timeout=30,
                metadata=system.bearer("province", "admin"),
            )
            .initial_password
        )
    page.goto(system.url("/admin/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(initial)
    fill_captcha(page, system)
    page.get_by_role("button", name="登录").click()
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page).to_have_url(system.url("/admin"))


def staff_page(like: Page, system: System, role: str, point: str = "") -> Page:
    """A staff member logged in, in a browser context of its own on the same screen as `like`."""
    browser = like.context.browser
    assert browser is not None
    page = open_page(browser, like.viewport_name)  # type: ignore[attr-defined]
    staff_login(page, system, f"{role[:4]}{uuid.uuid4().hex[:10]}", role, point=point)
    return page


# ---- 报考资格审核 (the registration point) ----


def review_documents(
    staff: Page, system: System, number: str, *, reason: str = "", prefix: str = "", bonus_points: str = "0"
) -> None:
    """Open the candidate from the review queue, look at the files, approve (or reject with `reason`).
    A candidate who claimed 奖励加分 is granted `bonus_points` (the field is there only for them)."""
    staff.goto(system.url("/admin/registration/reviews"))
    row = staff.locator("tbody tr", has_text=number)
    expect(row).to_have_count(1)
    if prefix:
        shot(staff, f"{prefix}-admin-reviews")
    row.get_by_role("link", name="审核").click()
    expect(staff.get_by_role("heading", name=re.compile(f"资格审核：.*{number}"))).to_be_visible()
    # Every uploaded file opens for the reviewer.
    for link in staff.locator('a[href^="/admin/registration/documents/"]').all():
        resp = staff.request.get(system.url(link.get_attribute("href") or ""))
        assert resp.ok and resp.headers["content-type"] in ("application/pdf", "image/png", "image/jpeg"), resp.url
    if prefix:
        shot(staff, f"{prefix}-admin-review")
    if reason:
        staff.get_by_role("button", name="审核不通过").click()  # without a reason: refused next to the field
        expect(staff.locator("#reason-error")).to_be_visible()
        staff.locator("#reason").fill(reason)
        staff.get_by_role("button", name="审核不通过").click()
        expect(staff.get_by_text("审核结果已保存。")).to_be_visible()
        expect(staff.locator(".facts")).to_contain_text("审核不通过")
    else:
        if staff.locator("#bonus_points").count():
            staff.locator("#bonus_points").fill(bonus_points)
        staff.get_by_role("button", name="审核通过").click()
        expect(staff.get_by_text("审核结果已保存。")).to_be_visible()
        expect(staff.locator(".facts")).to_contain_text("审核通过")
    if prefix:
        shot(staff, f"{prefix}-admin-review-decided")


# ---- 考试安排, 准考证打印 and 考场编排 (the province) ----


def prepare_exam(staff: Page, system: System, prefix: str = "") -> None:
    """A site with rooms in 太原 and the timetable of category 01 (once); the 准考证打印 phase open."""
    staff.goto(system.url("/admin/exam/plan"))
    expect(staff.get_by_role("heading", name="考试安排")).to_be_visible()
    today = now()
    if staff.locator("table tbody td", has_text=re.compile(f"^{SITE}$")).count() == 0:
        staff.locator("#code").fill(SITE)
        staff.locator("#name").fill("太原师范学院考点")
        staff.locator("#city_code").select_option("01")
        staff.locator("#address").fill("山西省晋中市榆次区大学街319号")
        staff.locator("#rooms").fill("001,30,教学楼A座101\n002,30,教学楼A座102\n003,30,教学楼A座103")
        staff.get_by_role("button", name="保存考点").click()
        expect(staff).to_have_url(re.compile(r"saved=1"))
    if staff.get_by_text("尚未设置考试日程").count():
        day = (today + timedelta(days=40)).date().isoformat()
        for subject, start, end in (("公共课", "09:00", "11:30"), ("专业课", "14:30", "17:00")):
            staff.locator("#major_category").select_option("01")
            staff.locator("#subject").fill(subject)
            staff.locator("#day").fill(day)
            staff.locator("#start").fill(start)
            staff.locator("#end").fill(end)
            staff.get_by_role("button", name="添加").click()
            expect(staff).to_have_url(re.compile(r"saved=1"))
    expect(staff.locator("table").first).to_contain_text("太原师范学院考点")
    if prefix:
        shot(staff, f"{prefix}-admin-exam-plan")
    # The printing window is the calendar's 准考证打印 phase.
    staff.goto(system.url("/admin/calendar"))
    phase = staff.locator("#phase-ticket_printing")
    phase.locator("#opens-ticket_printing").fill(local(today - timedelta(days=1)))
    phase.locator("#closes-ticket_printing").fill(local(today + timedelta(days=30)))
    phase.get_by_role("button", name="保存").click()
    expect(staff).to_have_url(re.compile(r"saved=1"))
    expect(staff.locator("#phase-ticket_printing")).to_contain_text("开放中")
    if prefix:
        shot(staff, f"{prefix}-admin-calendar")


def publish_arrangement(staff: Page, system: System, number: str, prefix: str = "") -> None:
    """编排 (keeping the seats already published), look at the draft, 发布; the candidate has a seat."""
    staff.goto(system.url("/admin/exam/arrangement"))
    expect(staff.get_by_role("heading", name="考场编排")).to_be_visible()
    staff.locator('form[action$="/arrangement/run"] button[type=submit]').click()
    expect(staff.locator("#view-heading")).to_contain_text("待审核")
    if prefix:
        shot(staff, f"{prefix}-admin-arrangement-draft")
    staff.get_by_role("button", name="审核无误，发布").click()
    expect(staff.locator("#view-heading")).to_contain_text("已发布")
    if prefix:
        shot(staff, f"{prefix}-admin-arrangement")
    staff.get_by_role("link", name="查看考生座位名单").click()
    staff.goto(f"{staff.url.split('?')[0]}?candidate_no={number}")
    expect(staff.locator("tbody")).to_contain_text(number)
    if prefix:
        shot(staff, f"{prefix}-admin-seats")


# ---- 招生计划 and 志愿填报时间 (the province) ----


def prepare_plan(staff: Page, system: System, prefix: str = "") -> None:
    """Import the enrollment plan when the platform has none."""
    staff.goto(system.url("/admin/preferences/plan"))
    expect(staff.get_by_role("heading", name="招生计划导入")).to_be_visible()
    if staff.get_by_text("没有招生计划数据。").count():
        staff.locator("#file").set_input_files(
            {"name": "招生计划.csv", "mimeType": "text/csv", "buffer": PLAN_CSV.encode()}
        )
        staff.locator("#plan-import-submit").click()
        expect(staff.locator("#plan-imported")).to_contain_text("院校3所")
    expect(staff.locator("#plan-current")).to_contain_text("山西大学")
    if prefix:
        shot(staff, f"{prefix}-admin-plan")


def schedule_batch(staff: Page, system: System, batch: str, opens: datetime, closes: datetime) -> None:
    """A batch's filling window, on the calendar page (报考阶段时间) with the year's other dates."""
    staff.goto(system.url("/admin/calendar"))
    form = staff.locator(f"#batch-{batch}")
    form.locator(f"#opens-batch-{batch}").fill(local(opens))
    form.locator(f"#closes-batch-{batch}").fill(local(closes))
    form.get_by_role("button", name="保存").click()
    expect(staff).to_have_url(re.compile(r"saved=1"))


def open_batches(staff: Page, system: System, prefix: str = "") -> None:
    """Both batches open for filling: since an hour ago, for a week."""
    for batch in (JDLK, ORDINARY):
        schedule_batch(staff, system, batch, now() - timedelta(hours=1), now() + timedelta(days=7))
    expect(staff.locator(f"#batch-{JDLK}")).to_contain_text("正在填报")
    expect(staff.locator(f"#batch-{ORDINARY}")).to_contain_text("正在填报")
    if prefix:
        shot(staff, f"{prefix}-admin-calendar-batches")


def close_batch(staff: Page, system: System, batch: str) -> None:
    """The batch's window is over: it ended a minute ago."""
    schedule_batch(staff, system, batch, now() - timedelta(days=2), now() - timedelta(minutes=1))
    expect(staff.locator(f"#batch-{batch}")).to_contain_text("填报已于")


# ---- 成绩 and 投档 (the province) ----


def publish_scores(staff: Page, system: System, scores: Mapping[str, tuple[int, int]], prefix: str = "") -> None:
    """整体导入 of 考生号 → (公共课, 专业课), then 发布 of that version."""
    lines = ["考生号,总分,公共课,专业课"] + [f"{n},{a + b},{a},{b}" for n, (a, b) in scores.items()]
    upload = {"name": "成绩.csv", "mimeType": "text/csv", "buffer": ("\n".join(lines) + "\n").encode()}

    def imported() -> bool:
        staff.goto(system.url("/admin/results/scores"))
        staff.locator("#file").set_input_files(upload)
        staff.locator("#res-import-submit").click()
        if staff.locator("#res-import-ok").count():
            return True
        reasons = staff.locator("#res-import-problems tbody td:nth-child(3)").all_inner_texts()
        # Only a confirmation not yet known to the results service (Kafka) is worth another try.
        if not reasons or set(reasons) != {"未找到该考生已确认的报名信息"}:
            raise AssertionError(f"{staff.locator('#res-import-error').all_inner_texts()} {reasons}")
        return False

    wait_for(imported, timeout=120)
    buttons = staff.locator('button[id^="res-publish-"]')
    version = max(int((b.get_attribute("id") or "").rsplit("-", 1)[1]) for b in buttons.all())
    if prefix:
        shot(staff, f"{prefix}-admin-scores-imported")
    staff.locator(f"#res-publish-{version}").click()
    expect(staff.locator("#res-publication")).to_contain_text(f"当前已发布：第{version}版")
    if prefix:
        shot(staff, f"{prefix}-admin-scores")


def set_control_lines(staff: Page, system: System, line: int, prefix: str = "") -> None:
    staff.goto(system.url("/admin/results/settings"))
    for batch in (JDLK, ORDINARY):
        staff.locator(f"#b_{batch}_lines").fill(f"01={line}")
    staff.locator("#res-settings-submit").click()
    expect(staff.locator("#res-settings-ok")).to_be_visible()
    if prefix:
        shot(staff, f"{prefix}-admin-admission-settings")


def run_admission(staff: Page, system: System, expected: Mapping[str, str], prefix: str = "") -> None:
    """模拟投档 of the next phase until every candidate of `expected` (考生号 → 院校代号) is dispatched
    there (the results service learns of preferences over Kafka), then 发布 and a review window that
    is over, so the results read 已录取."""

    def dry_run() -> int | None:
        staff.goto(system.url("/admin/results/runs"))
        staff.locator("#res-run-start").click()
        if not re.search(r"/admin/results/runs/\d+$", staff.url):
            raise AssertionError(staff.locator("#res-runs-error").inner_text())
        run_id = int(staff.url.rsplit("/", 1)[1])
        for number, institution in expected.items():
            staff.locator("#candidate_no").fill(number)
            staff.get_by_role("button", name="查询").click()
            outcome = staff.locator("#res-explain-result")
            expect(outcome.or_(staff.locator("#res-explain-error"))).to_be_visible()
            if not outcome.count() or institution not in outcome.inner_text():
                staff.goto(system.url("/admin/results/runs"))
                staff.locator(f"#res-discard-run-{run_id}").click()
                return None
        return run_id

    run_id = wait_for(dry_run, timeout=120)
    if prefix:
        shot(staff, f"{prefix}-admin-run")
    staff.goto(system.url("/admin/results/runs"))
    staff.locator(f"#res-publish-run-{run_id}").click()
    expect(staff.locator("#res-runs-ok")).to_have_text("投档结果已发布")
    phase = staff.locator("#res-phase-table tbody tr", has_text="已发布").last
    phase.locator('input[name="opens_at"]').fill(local(now() - timedelta(hours=2)))
    phase.locator('input[name="closes_at"]').fill(local(now() - timedelta(minutes=1)))
    phase.get_by_role("button", name="保存").click()
    expect(staff.locator("#res-runs-ok")).to_have_text("审核时间已保存")
    if prefix:
        shot(staff, f"{prefix}-admin-runs")


def view_admin_pages(staff: Page, system: System, paths: Sequence[tuple[str, str]], prefix: str) -> None:
    """Screenshots of pages staff only read."""
    for path, name in paths:
        staff.goto(system.url(path))
        expect(staff.locator("main, .admin-main").first).to_be_visible()
        shot(staff, f"{prefix}-{name}")
