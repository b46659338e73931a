"""表格下载 through the gRPC API: who gets which PDF when, what it says, and the ticket's QR code."""

from __future__ import annotations

import io
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import grpc
import pytest
from kafka import KafkaProducer
from pypdf import PdfReader
from sqlalchemy import update

from services.registration.adapters import Candidate
from services.registration.documents.consumers import record_payment
from services.registration.documents.service import DocumentsDeps
from services.registration.documents.tables import PaymentReceiptRow, TicketPledgeRow
from services.registration.documents.testing import (
    StandInPortraits,
    candidate_form,
    candidate_no,
    documents_spec,
    extracted,
    plan,
    portrait_jpeg,
    qualify,
    run_and_publish,
    use_documents,
)
from services.registration.documents.tokens import TicketTokens
from services.registration.service.facts import open_registration, record
from services.registration.tests.helpers import make_id, publish_outbox_now
from zsb.common.clock import unix, utcnow
from zsb.common.events import build_headers, topic_for
from zsb.common.grpc_server import REASON_KEY
from zsb.common.runtime import ServiceRuntime
from zsb.events.v1 import payment_events_pb2
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc

ME = candidate_no("0113", 1)
OTHER = candidate_no("0113", 2)


@dataclass
class Docs:
    runtime: ServiceRuntime
    stub: registration_pb2_grpc.RegistrationServiceStub
    bearer: Any
    deps: DocumentsDeps
    portraits: StandInPortraits

    @property
    def ctx(self):
        return self.runtime.ctx

    def me(self, number: str = ME):
        return self.bearer("candidate", number, number[6:8], number[6:10])

    def download(self, kind: str, metadata, number: str = "") -> bytes:
        f = self.stub.DownloadForm(pb.DownloadFormRequest(kind=kind, candidate_no=number), metadata=metadata)
        assert f.content_type == "application/pdf" and f.data.startswith(b"%PDF-")
        return f.data


def start(service_settings, database_url: str, bearer) -> Iterator[Docs]:
    runtime = ServiceRuntime(documents_spec(), service_settings("registration", database_url))
    deps, portraits = use_documents(runtime.ctx)
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Docs(runtime, registration_pb2_grpc.RegistrationServiceStub(channel), bearer, deps, portraits)
    runtime.stop(grace=0)


@pytest.fixture
def docs(service_settings, database_url: str, bearer) -> Iterator[Docs]:
    yield from start(service_settings, database_url, bearer)


@pytest.fixture
def docs_sqlite(service_settings, sqlite_url: str, bearer) -> Iterator[Docs]:
    yield from start(service_settings, sqlite_url, bearer)


def refused(call, code: grpc.StatusCode, reason: str = "") -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, info.value.details()
    if reason:
        assert dict(info.value.trailing_metadata())[REASON_KEY] == reason, info.value.details()
    return info.value


BONUS_FORM = {
    "claims_bonus_points": "1",
    "poverty_registered": "1",
    "awards": "2023年全国职业院校技能大赛会计技能赛项一等奖",
}


def test_the_forms_after_the_review_with_every_field(docs: Docs) -> None:
    me = docs.me()
    raw = candidate_form(1, **BONUS_FORM)
    # Before the review passes there is nothing to download.
    with docs.ctx.db.unit_of_work() as s:
        open_registration(s, ME, "张晓明", "0113")
    overview = docs.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert not overview.forms_open and not any(f.available for f in overview.forms)
    refused(lambda: docs.download("registration", me), grpc.StatusCode.FAILED_PRECONDITION, "STEP_NOT_OPEN")
    qualify(docs.ctx, ME, raw)  # materials uploaded, reviewed and approved by the province
    with docs.ctx.db.unit_of_work() as s:
        paid = payment_events_pb2.PaymentSucceeded(candidate_no=ME, order_no="o-1", provider="alipay", amount_fen=12000)
        record_payment(s, paid)
    overview = docs.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert overview.forms_open
    available = {f.kind: (f.available, f.code) for f in overview.forms}
    assert available == {
        "registration": (True, ""),
        "medical": (True, ""),
        "bonus": (True, ""),
        "ticket": (False, "ARRANGEMENT_NOT_PUBLISHED"),
    }

    text = extracted(docs.download("registration", me))
    for expected in (
        "报名信息登记表",
        f"考生号：{ME}",
        "张晓明",
        "男",
        "汉族",
        "共青团员",
        "2003-09-15",
        make_id(101),  # the candidate's own copy: the full number
        "13812340001",
        "山西工程职业学院",
        "530302",
        "大数据与会计",
        "普通类",
        "城镇应届",
        "财经类(01)",
        "太原市",
        "2023年全国职业院校技能大赛会计技能赛项一等奖",
        "山西省太原市小店区",
        "13912345678",
        "030006",
        "山西省太原市小店区坞城路92号",
        "太原市第五中学",
        "2018-09",
        "已通过",
        "已缴费（¥120.00",
        "审核通过",
        "考生签名",
        "照片",  # no photo from the identity service: the placeholder box
    ):
        assert expected in text, expected
    assert "是否建档立卡贫困家庭是" in text and "是否申请奖励加分是" in text
    steps = docs.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=me).steps
    assert {s.step: s.state for s in steps}["forms"] == "done"  # the first download turns the step green

    medical = extracted(docs.download("medical", me))
    for expected in ("考生体检表", ME, "张晓明", make_id(101), "眼科", "内科", "体检结论", "医师签字", "主检医师签字"):
        assert expected in medical, expected
    bonus = extracted(docs.download("bonus", me))
    for expected in (
        "录取加分登记表",
        ME,
        "2023年全国职业院校技能大赛会计技能赛项一等奖",
        "学校意见",
        "省招生考试管理中心意见",
        "（盖章）",
        "不累计加分",
    ):
        assert expected in bonus, expected

    # With the photo from the identity service, it is printed instead of the placeholder.
    docs.portraits.photos[ME] = portrait_jpeg()
    with_photo = docs.download("registration", me)
    reader = PdfReader(io.BytesIO(with_photo))
    assert len(reader.pages[0].images) == 1 and "照片" not in extracted(with_photo)
    # Never stale: a change of the data is in the next download.
    with docs.ctx.db.unit_of_work() as s:
        s.get(PaymentReceiptRow, ME).amount_fen = 9000
    assert "已缴费（¥90.00" in extracted(docs.download("registration", me))

    # Without a bonus claim there is no 录取加分登记表.
    plain = candidate_form(2)
    qualify(docs.ctx, OTHER, plain, name="李华")
    refused(lambda: docs.download("bonus", docs.me(OTHER)), grpc.StatusCode.FAILED_PRECONDITION, "NO_BONUS_CLAIM")
    refused(lambda: docs.download("nonsense", me), grpc.StatusCode.INVALID_ARGUMENT, "BAD_FORM_KIND")
    # After 放弃报名 nothing more (recorded through the domain: the use case needs an SMS proof).
    with docs.ctx.db.unit_of_work() as s:
        record(s, OTHER, lambda r: r.abandon(utcnow()))
    refused(lambda: docs.download("registration", docs.me(OTHER)), grpc.StatusCode.FAILED_PRECONDITION, "ABANDONED")


def test_only_the_candidate_and_staff_in_scope(docs: Docs) -> None:
    qualify(docs.ctx, ME, candidate_form(1))
    qualify(docs.ctx, OTHER, candidate_form(2), name="李华")
    # Another candidate's documents: not found, the number is not even confirmed to exist.
    refused(lambda: docs.download("registration", docs.me(OTHER), ME), grpc.StatusCode.NOT_FOUND)
    refused(lambda: docs.download("registration", docs.me(OTHER), candidate_no("0113", 99)), grpc.StatusCode.NOT_FOUND)
    # Staff in scope get it, with the numbers masked; staff out of scope are refused.
    point = docs.bearer("point", "point0113", "01", "0113")
    text = extracted(docs.download("registration", point, ME))
    assert ME in text and make_id(101) not in text and "1401**********" in text and "138****0001" in text
    refused(
        lambda: docs.download("registration", docs.bearer("point", "point0102", "01", "0102"), ME),
        grpc.StatusCode.PERMISSION_DENIED,
        "OUT_OF_SCOPE",
    )
    refused(
        lambda: docs.download("medical", docs.bearer("city", "datong", "02"), ME),
        grpc.StatusCode.PERMISSION_DENIED,
        "OUT_OF_SCOPE",
    )
    assert ME in extracted(docs.download("medical", docs.bearer("city", "taiyuan", "01"), ME))
    refused(lambda: docs.download("registration", point, ""), grpc.StatusCode.INVALID_ARGUMENT, "BAD_CANDIDATE_NO")
    refused(lambda: docs.download("registration", point, "21145101139999"), grpc.StatusCode.NOT_FOUND)
    # No token at all.
    refused(
        lambda: docs.stub.DownloadForm(pb.DownloadFormRequest(kind="registration")), grpc.StatusCode.UNAUTHENTICATED
    )


def _window(docs: Docs, opens: int, closes: int) -> None:
    """The calendar's 准考证打印 phase, as the province sets it on the calendar page."""
    docs.stub.SetCalendarPhase(
        pb.SetCalendarPhaseRequest(phase="ticket_printing", opens_at=opens, closes_at=closes),
        metadata=docs.bearer("province", "sheng"),
    )


def qr_text(pdf: bytes, tmp: Path) -> str:
    """The QR code on the first page as a phone reads it: rasterised by poppler, decoded by OpenCV."""
    (tmp / "t.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", str(tmp / "t.pdf"), str(tmp / "t")], check=True)
    return cv2.QRCodeDetector().detectAndDecode(cv2.imread(str(tmp / "t.png")))[0]


def test_the_ticket_needs_publication_the_window_and_the_pledge(docs: Docs, tmp_path: Path) -> None:
    me = docs.me()
    qualify(docs.ctx, ME, candidate_form(1))
    plan(docs.deps)
    refused(lambda: docs.download("ticket", me), grpc.StatusCode.FAILED_PRECONDITION, "ARRANGEMENT_NOT_PUBLISHED")
    # The calendar's 准考证打印 phase is never set (open), yet no ticket exists: the line says so.
    before = docs.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert before.ticket_text == "准考证打印：未开始（考场编排发布后开放）"
    ticket_line = {p.phase: p for p in docs.stub.GetCalendar(pb.GetCalendarRequest()).phases}["ticket_printing"]
    assert (ticket_line.line, ticket_line.line_state) == ("准考证打印：未开始（考场编排发布后开放）", "not_yet")
    run_and_publish(docs.deps)
    refused(lambda: docs.download("ticket", me), grpc.StatusCode.FAILED_PRECONDITION, "PLEDGE_REQUIRED")
    # The pledge: served first, then agreed to no sooner than 10 s later by the server's clock.
    refused(
        lambda: docs.stub.AcknowledgeTicketPledge(pb.AcknowledgeTicketPledgeRequest(), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOTICE_NOT_SHOWN",
    )
    shown = docs.stub.ShowTicketPledge(pb.ShowTicketPledgeRequest(), metadata=me)
    assert shown.shown_at > 0 and 9 <= shown.seconds_remaining <= 10 and not shown.acknowledged_at
    again = docs.stub.ShowTicketPledge(pb.ShowTicketPledgeRequest(), metadata=me)
    assert again.shown_at == shown.shown_at  # a reload does not restart the clock
    err = refused(
        lambda: docs.stub.AcknowledgeTicketPledge(pb.AcknowledgeTicketPledgeRequest(), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOTICE_TOO_SOON",
    )
    assert "秒后才能确认" in err.details()
    with docs.ctx.db.unit_of_work() as s:
        s.execute(update(TicketPledgeRow).values(shown_at=utcnow() - timedelta(seconds=11)))
    agreed = docs.stub.AcknowledgeTicketPledge(pb.AcknowledgeTicketPledgeRequest(), metadata=me)
    assert agreed.acknowledged_at > 0 and agreed.seconds_remaining == 0

    now = unix(utcnow())
    _window(docs, now + 3600, now + 7200)
    err = refused(lambda: docs.download("ticket", me), grpc.StatusCode.FAILED_PRECONDITION, "PHASE_CLOSED")
    assert err.details().startswith("不在办理时间内：准考证打印将于")
    overview = docs.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert overview.ticket_open_at == now + 3600 and overview.ticket_text.startswith("准考证打印：未开始（")
    assert {f.kind: f.code for f in overview.forms}["ticket"] == "PHASE_CLOSED"
    _window(docs, now - 7200, now - 3600)
    err = refused(lambda: docs.download("ticket", me), grpc.StatusCode.FAILED_PRECONDITION, "PHASE_CLOSED")
    assert "准考证打印已于" in err.details()
    # Staff may print a published ticket for a candidate in scope whatever the phase.
    staff_copy = extracted(docs.download("ticket", docs.bearer("point", "p", "01", "0113"), ME))
    assert ME in staff_copy and "准考证" in staff_copy

    _window(docs, now - 60, now + 3600)
    overview = docs.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert {f.kind: f.available for f in overview.forms}["ticket"]
    assert overview.ticket_text.startswith("准考证打印：开放中（至")
    _window(docs, 0, 0)  # never set again: open (published arrangement, so the line says so too)
    publish_outbox_now(docs.runtime)
    assert docs.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me).ticket_text == "准考证打印：开放中"
    docs.portraits.photos[ME] = portrait_jpeg()
    pdf = docs.download("ticket", me)
    text = extracted(pdf)
    seat = overview.seat
    for expected in (
        "2026年山西省普通高校专升本选拔考试",
        "准考证",
        f"考生号{ME}",
        "张晓明",
        "1401**********",
        "财经类(01)",
        seat.site_name,
        "太原市小店区坞城路1号",
        f"第{seat.room_no}考场",
        f"座位号{seat.seat_no:02d}",
        "2026年4月18日（星期六）",
        "09:00-11:30",
        "大学语文",
        "14:30-16:30",
        "英语",
        "考生须知",
        "开考15分钟后不得入场",
    ):
        assert expected in text, expected
    assert make_id(101) not in text  # the ID number only masked
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1  # the photo
    url = qr_text(pdf, tmp_path)
    assert url.startswith("https://zsb.example.cn/ticket/verify/")
    token = url.rsplit("/", 1)[1]
    assert token in text  # printed under the rules, for typing when a camera fails
    verified = docs.stub.VerifyTicket(pb.VerifyTicketRequest(token=token))  # public: no access token
    assert verified.status == "valid" and verified.masked_name == "张*明" and verified.seat_no == seat.seat_no


def test_verification_tells_genuine_forged_superseded_and_revoked(docs: Docs) -> None:
    qualify(docs.ctx, ME, candidate_form(1))
    plan(docs.deps, rooms={"0101": [("001", 30)]})
    run_and_publish(docs.deps)
    with docs.ctx.db.unit_of_work() as s:
        from services.registration.documents.tables import SeatAssignmentRow

        serial = s.query(SeatAssignmentRow.ticket_serial).filter(SeatAssignmentRow.candidate_no == ME).scalar()
    token = docs.deps.tokens.sign(serial)
    verify = lambda t: docs.stub.VerifyTicket(pb.VerifyTicketRequest(token=t))  # noqa: E731
    ok = verify(token)
    assert (ok.status, ok.candidate_no, ok.masked_name, ok.site_name, ok.room_no, ok.seat_no) == (
        "valid",
        ME,
        "张*明",
        "0101考点山西大学附属中学",
        "001",
        1,
    )
    assert "张晓明" not in str(ok)
    # Forged: one character changed, another key, garbage, a serial never issued.
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    other_key = TicketTokens(b"x" * 32).sign(serial)
    never = docs.deps.tokens.sign("00" * 12)
    for forged in (flipped, other_key, never, "", "not-a-token", token + "A", "<script>"):
        result = verify(forged)
        assert result.status == "invalid" and "二维码无效" in result.message and not result.candidate_no
    # A re-arrangement that moves the candidate: the old ticket is outdated, the new one valid.
    plan(docs.deps, rooms={"0100": [("001", 30)]}, sessions=False)  # a site that comes first in room order
    run_and_publish(docs.deps, keep=False)
    old = verify(token)
    assert old.status == "superseded" and "已作废" in old.message and old.masked_name == "张*明" and not old.site_name
    with docs.ctx.db.unit_of_work() as s:
        from services.registration.documents.service.common import arrangement_with_status

        current = arrangement_with_status(s, "published")
        serial = (
            s.query(SeatAssignmentRow.ticket_serial)
            .filter(SeatAssignmentRow.candidate_no == ME, SeatAssignmentRow.arrangement_id == current.id)
            .scalar()
        )
    new_token = docs.deps.tokens.sign(serial)
    assert verify(new_token).status == "valid" and verify(new_token).site_name.startswith("0100")
    # A candidate who abandoned: the ticket is no longer valid.
    with docs.ctx.db.unit_of_work() as s:
        s.get(Candidate, ME).abandoned_at = utcnow()
    assert verify(new_token).status == "revoked"


def test_the_fee_comes_from_the_payment_events(docs_sqlite: Docs, kafka_bootstrap: str) -> None:
    docs = docs_sqlite
    number = candidate_no("0113", int(uuid.uuid4().int % 9000) + 1)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        paid = payment_events_pb2.PaymentSucceeded(
            candidate_no=number, order_no="o-9", provider="wechat", amount_fen=15050
        )
        ce_id = str(uuid.uuid4())
        for _ in range(2):  # a redelivery changes nothing
            headers = build_headers(ce_id, paid.DESCRIPTOR.full_name, "payment", "2026-03-01T08:00:00Z", "")
            producer.send(
                topic_for("payment"), key=number.encode(), value=paid.SerializeToString(), headers=headers
            ).get(15)
    finally:
        producer.close()
    deadline = time.monotonic() + 60
    receipt = None
    while time.monotonic() < deadline and receipt is None:
        with docs.ctx.db.unit_of_work() as s:
            row = s.get(PaymentReceiptRow, number)
            receipt = (row.amount_fen, row.provider) if row else None
        time.sleep(0.2)
    assert receipt == (15050, "wechat")


def test_a_missing_font_is_a_clear_installation_error() -> None:
    from services.registration.documents.config import DocumentsConfig
    from services.registration.documents.render import FontMissing, Renderer
    from services.registration.documents.render.models import MedicalFormView, Person

    person = Person(*(["x"] * 25))
    renderer = Renderer(DocumentsConfig(font_regular="/nonexistent/wqy.ttc"))
    with pytest.raises(FontMissing) as info:
        renderer.render(MedicalFormView("考试", person, None))
    assert "/nonexistent/wqy.ttc" in str(info.value) and "fonts-wqy-microhei" in str(info.value)


def test_characters_the_main_font_lacks_come_from_the_fallback_font() -> None:
    from services.registration.documents.config import DocumentsConfig
    from services.registration.documents.render import Renderer
    from services.registration.documents.render.base import FontFile, coverage
    from services.registration.documents.render.models import MedicalFormView, Person

    config = DocumentsConfig()
    regular = coverage(FontFile(config.font_regular, config.font_regular_index))
    fallback = coverage(FontFile(config.font_fallback, config.font_fallback_index))
    # A CJK extension B character (rare in names) that only the fallback font draws.
    rare = next(chr(c) for c in range(0x20000, 0x2A6DF) if c not in regular and c in fallback)
    person = replace(Person(*(["—"] * 25)), name=f"王{rare}")
    pdf = Renderer(config).render(MedicalFormView("考试", person, None))
    fonts = {
        str(f.get_object()["/BaseFont"])
        for page in PdfReader(io.BytesIO(pdf)).pages
        for f in page["/Resources"]["/Font"].values()
    }
    assert any("NotoSansCJK" in name for name in fonts) and any("WenQuanYi" in name for name in fonts)


def test_long_texts_flow_onto_more_pages_and_lose_nothing() -> None:
    from services.registration.documents.config import DocumentsConfig
    from services.registration.documents.render import Renderer
    from services.registration.documents.render.models import Person, Progress, RegistrationFormView, ResumeLine

    awards = "；".join(f"第{i}项省级技能大赛一等奖" for i in range(1, 30))
    resume = tuple(ResumeLine(f"20{i:02d}-01", f"20{i:02d}-12", f"第{i}个学习单位", "学生") for i in range(20))
    person = replace(Person(*(["—"] * 25)), awards=awards, resume=resume)
    pdf = Renderer(DocumentsConfig()).render(RegistrationFormView("考试", person, Progress("", "", "", ""), None))
    text = extracted(pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    assert "第29项省级技能大赛一等奖" in text and "第19个学习单位" in text and "考生签名" in text
