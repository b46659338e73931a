"""Helpers the tests of 表格下载 share (service and gateway): a candidate taken through the real
use cases up to a passed review, an exam plan, a published arrangement. Not used by the service.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import update

from services.registration.documents.config import DocumentsConfig
from services.registration.documents.consumers import GROUP as DOCUMENTS_GROUP
from services.registration.documents.consumers import subscriptions as documents_subscriptions
from services.registration.documents.service import ArrangementService, DocumentsDeps, PlanService, attach
from services.registration.documents.tables import TicketPledgeRow
from services.registration.main import SPEC
from services.registration.service import DocumentsService, StaffService, WizardService
from services.registration.service.facts import open_registration, record
from services.registration.tests.helpers import age_notices, pdf_bytes
from zsb.common.clock import utcnow
from zsb.common.principal import Principal, Role, reset_principal, set_principal
from zsb.common.runtime import ServiceContext, ServiceSpec

TICKET_KEY = base64.b64encode(b"k" * 32).decode()
NOTICES = ("instructions", "discipline", "pledge")


def documents_spec() -> ServiceSpec:
    """The registration service with the methods and subscription of 表格下载 wired in (a no-op
    once `main.py` and `consumers.py` include them)."""
    from services.registration.api import PUBLIC_METHODS

    def subscriptions(ctx: ServiceContext):
        subs = list(SPEC.subscriptions(ctx))
        if not any(s.group == DOCUMENTS_GROUP for s in subs):
            subs += documents_subscriptions(ctx)
        return subs

    return replace(SPEC, public_methods=SPEC.public_methods | PUBLIC_METHODS, subscriptions=subscriptions)


def documents_config(**overrides: Any) -> DocumentsConfig:
    values: dict[str, Any] = {"ticket_key": TICKET_KEY, "public_base_url": "https://zsb.example.cn", **overrides}
    return DocumentsConfig(**values)


class StandInPortraits:
    """The identity service's GetPortrait does not exist yet: a stand-in that answers like it will."""

    def __init__(self) -> None:
        self.photos: dict[str, bytes] = {}
        self.asked: list[str] = []

    def get(self, candidate_no: str) -> bytes | None:
        self.asked.append(candidate_no)
        return self.photos.get(candidate_no)


def portrait_jpeg() -> bytes:
    """A small ID-photo-like JPEG (blue background, a face, shoulders)."""
    image = Image.new("RGB", (295, 413), (67, 142, 219))
    draw = ImageDraw.Draw(image)
    draw.ellipse((85, 70, 210, 230), fill=(236, 205, 175))
    draw.rectangle((40, 280, 255, 413), fill=(25, 25, 35))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def use_documents(ctx: ServiceContext, **config: Any) -> tuple[DocumentsDeps, StandInPortraits]:
    deps = DocumentsDeps.build(ctx, documents_config(**config))
    portraits = StandInPortraits()
    deps.portraits = portraits
    attach(ctx, deps)
    return deps, portraits


@contextmanager
def acting_as(role: str, subject: str, city: str = "", point: str = "") -> Iterator[None]:
    token = set_principal(Principal(subject, Role(role), city, point, "test"))
    try:
        yield
    finally:
        reset_principal(token)


def province() -> Any:
    return acting_as("province", "sheng")


def qualify(
    ctx: ServiceContext, number: str, raw: dict[str, Any], name: str = "张晓明", bonus_points: str = "0"
) -> None:
    """Through the real use cases: notices, form, 信息确认, identity and payment facts, the review
    (granting a claimant `bonus_points` of 奖励加分)."""
    with ctx.db.unit_of_work() as session:
        open_registration(session, number, name, raw["point_code"])
    with acting_as("candidate", number, raw["city_code"], raw["point_code"]):
        wizard = WizardService(ctx)
        for notice in NOTICES:
            wizard.show_notice(notice)
            age_notices(ctx.db, number)
            wizard.acknowledge_notice(notice)
        result = wizard.save_basic_info(raw)
        assert not result.errors, result.errors
        snapshot = wizard.confirm()
    with ctx.db.unit_of_work() as session:
        record(session, number, lambda r: r.record_identity_verified(r.confirmed_at))
        record(session, number, lambda r: r.record_payment_succeeded(r.confirmed_at))
    review = snapshot.reg.qualification
    if review is not None and not review.automatic:
        with acting_as("candidate", number, raw["city_code"], raw["point_code"]):
            docs = DocumentsService(ctx)
            for kind in review.required:
                docs.upload(kind.value, "证明.pdf", "application/pdf", pdf_bytes())
            docs.submit()
        with province():
            StaffService(ctx).decide(number, True, "", bonus_points)


def read_pledge(ctx: ServiceContext, deps: DocumentsDeps, number: str) -> None:
    """Show the 考生诚信考试承诺书, let 11 s pass on the server's record, agree."""
    from services.registration.documents.service import DownloadsService

    with acting_as("candidate", number):
        DownloadsService(deps).show_pledge()
        with ctx.db.unit_of_work() as session:
            session.execute(
                update(TicketPledgeRow)
                .where(TicketPledgeRow.candidate_no == number)
                .values(shown_at=utcnow() - timedelta(seconds=11))
            )
        DownloadsService(deps).acknowledge_pledge()


def plan(
    deps: DocumentsDeps,
    rooms: dict[str, list[tuple[str, int]]] | None = None,
    sessions: bool = True,
) -> None:
    """Sites (code -> rooms), a timetable for 财经类 and 计算机类. The calendar's 准考证打印 phase
    is left as the test found it (never set: open)."""
    service = PlanService(deps)
    rooms = rooms if rooms is not None else {"0101": [("001", 30), ("002", 30)]}
    with province():
        service.save_settings("2026年山西省普通高校专升本选拔考试", "zsb-2026")
        for code, room_list in rooms.items():
            service.save_site(
                code,
                f"{code}考点山西大学附属中学",
                code[:2],
                "太原市小店区坞城路1号",
                [(no, capacity, f"教学楼{no}室") for no, capacity in room_list],
            )
        for category in ("01", "08") if sessions else ():
            service.save_session(0, category, "大学语文", "2026-04-18", "09:00", "11:30")
            service.save_session(0, category, "英语", "2026-04-18", "14:30", "16:30")


def run_and_publish(deps: DocumentsDeps, keep: bool = False) -> int:
    with province():
        arrangement = ArrangementService(deps).run(keep)
        assert arrangement.row is not None
        ArrangementService(deps).publish(arrangement.row.id)
        return arrangement.row.id


def extracted(data: bytes) -> str:
    """The text of a PDF as pypdf extracts it, whitespace removed (layouts wrap text anywhere)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def candidate_no(point: str, i: int) -> str:
    """A 考生号 whose characters 7-10 are the point, as the auth imports make them."""
    return f"211451{point}{i:04d}"


def candidate_form(i: int, point: str = "0113", category: str = "01", **overrides: Any) -> dict[str, Any]:
    """A valid form for the i-th test candidate (own ID number and phone)."""
    from services.registration.tests.helpers import form

    return form(
        seq=100 + i,
        phone=f"1381234{i:04d}",
        city_code=point[:2],
        point_code=point,
        major_category=category,
        **overrides,
    )
