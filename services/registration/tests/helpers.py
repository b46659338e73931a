"""Shared by the registration service's and the gateway's tests: valid forms, files, clock moves."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import update

from services.registration.adapters import NoticeReadingRow
from zsb.common.db import Database
from zsb.common.validators import id_check_char
from zsb.registration.v1 import registration_pb2


def make_id(seq: int, birth: str = "20030915", region: str = "140105") -> str:
    """A valid 身份证号; an odd `seq` gives a man (the 17th digit), an even one a woman."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + id_check_char(first17)


def form(seq: int = 131, phone: str = "13812345678", **overrides: Any) -> dict[str, Any]:
    """A valid 填写基本信息 submission (raw strings) for a man born 2003-09-15 at point 0113."""
    raw: dict[str, Any] = {
        "name": "张晓明",
        "sex": "男" if seq % 2 else "女",
        "ethnicity": "01",
        "political_status": "03",
        "birth_date": "2003-09-15",
        "id_number": make_id(seq),
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
        "recipient": "张晓明",
        "recipient_phone": "13912345678",
        "postal_code": "030006",
        "mailing_address": "山西省太原市小店区坞城路92号",
        "resume": [{"start": "2018-09", "end": "2021-07", "unit": "太原市第五中学", "role": "学生"}],
    }
    raw.update(overrides)
    return raw


def basic_info(raw: dict[str, Any]) -> registration_pb2.BasicInfo:
    """The form as the gRPC message SaveBasicInfo takes."""
    msg = registration_pb2.BasicInfo(**{k: v for k, v in raw.items() if k != "resume"})
    for row in raw["resume"]:
        msg.resume.add(**row)
    return msg


def age_notices(db: Database, candidate_no: str, seconds: int = 11) -> None:
    """Move the server's record of when the notices were shown into the past (the reading time)."""
    with db.unit_of_work() as session:
        rows = session.query(NoticeReadingRow).filter(NoticeReadingRow.candidate_no == candidate_no).all()
        for row in rows:
            if row.shown_at is not None and row.acknowledged_at is None:
                session.execute(
                    update(NoticeReadingRow)
                    .where(NoticeReadingRow.candidate_no == candidate_no, NoticeReadingRow.notice == row.notice)
                    .values(shown_at=row.shown_at - timedelta(seconds=seconds))
                )


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, "JPEG")
    return out.getvalue()


def pdf_bytes(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def publish_outbox_now(runtime: Any) -> None:
    """Publish what a service's outbox still holds before the test stops the service.

    Tests that change the calendar put it back (a newer `CalendarPhaseChanged`) when they end;
    stopped at once, the relay would leave that last change unpublished, and every consumer that
    replays the shared topic (identity, payment, results) would keep the test's closed window.
    """
    from zsb.common.outbox import OutboxRelay

    settings = runtime.ctx.settings
    relay = OutboxRelay(runtime.ctx.db, settings.service_name, settings.kafka_bootstrap_servers)
    try:
        while relay.publish_pending():
            pass
    finally:
        relay._drop_producer()
