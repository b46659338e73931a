"""From stored data to what the documents print: names instead of codes, Beijing times, money."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from services.registration.adapters import Candidate
from services.registration.documents.render.models import Person, Progress, ResumeLine
from services.registration.documents.tables import ExamSessionRow, PaymentReceiptRow
from services.registration.domain import FactStatus, ReferenceData, Registration
from zsb.common.clock import beijing_text
from zsb.common.pii import mask_id_number, mask_phone
from zsb.common.validators import MAINLAND_PROVINCES

WEEKDAYS = "一二三四五六日"


def _name(options, code: str) -> str:
    option = options.get(code) if code else None
    return option.name if option else code


def _yes_no(value: object) -> str:
    return "是" if value is True else "否" if value is False else ""


def money(fen: int) -> str:
    """12000 -> ¥120.00 (fees are integer fen)."""
    return f"¥{fen // 100}.{fen % 100:02d}"


def person_view(row: Candidate, info: dict, reference: ReferenceData, masked: bool) -> Person:
    """The registration as printed; staff copies have the ID and phone numbers masked."""
    major = reference.major_category(str(info.get("major_category", "")))
    id_number, phone = str(info.get("id_number", "")), str(info.get("phone", ""))
    recipient_phone = str(info.get("recipient_phone", ""))
    if masked:
        id_number, phone = mask_id_number(id_number), mask_phone(phone)
        recipient_phone = mask_phone(recipient_phone)
    household = " ".join(
        part
        for part in (
            MAINLAND_PROVINCES.get(str(info.get("household_province", "")), str(info.get("household_province", ""))),
            str(info.get("household_city", "")),
            str(info.get("household_district", "")),
        )
        if part
    )
    return Person(
        candidate_no=row.candidate_no,
        name=str(info.get("name") or row.name),
        sex=str(info.get("sex", "")),
        ethnicity=_name(reference.ethnicities, str(info.get("ethnicity", ""))),
        political_status=_name(reference.political_statuses, str(info.get("political_status", ""))),
        birth_date=str(info.get("birth_date", "")),
        id_number=id_number,
        phone=phone,
        graduated_school=str(info.get("graduated_school", "")),
        college_major_code=str(info.get("college_major_code", "")),
        college_major_name=str(info.get("college_major_name", "")),
        candidate_category=_name(reference.candidate_categories, str(info.get("candidate_category", ""))),
        candidate_type=_name(reference.candidate_types, str(info.get("candidate_type", ""))),
        major_category=major.label if major else str(info.get("major_category", "")),
        music_test_subject=_name(reference.music_test_subjects, str(info.get("music_test_subject", ""))),
        city=_name(reference.cities, str(info.get("city_code", "")) or row.city_code),
        point=_name(reference.points, str(info.get("point_code", "")) or row.point_code),
        poverty_registered=_yes_no(info.get("poverty_registered")),
        claims_bonus_points=_yes_no(info.get("claims_bonus_points")),
        awards=str(info.get("awards", "")),
        household=household,
        recipient=str(info.get("recipient", "")),
        recipient_phone=recipient_phone,
        postal_code=str(info.get("postal_code", "")),
        mailing_address=str(info.get("mailing_address", "")),
        resume=tuple(
            ResumeLine(str(r.get("start", "")), str(r.get("end", "")), str(r.get("unit", "")), str(r.get("role", "")))
            for r in info.get("resume") or []
        ),
    )


def _when(at: datetime | None) -> str:
    return beijing_text(at) if at else ""


def progress_view(row: Candidate, reg: Registration, receipt: PaymentReceiptRow | None) -> Progress:
    identity = {
        FactStatus.SUCCEEDED: f"已通过（{_when(reg.identity.at)}）",
        FactStatus.FAILED: "未通过",
        FactStatus.PENDING: "未认证",
    }[reg.identity.status]
    if row.payment_refunded_at is not None:
        payment = f"已退费（{_when(row.payment_refunded_at)}）"
    elif reg.payment.status is FactStatus.SUCCEEDED:
        amount = f"{money(receipt.amount_fen)}，" if receipt and receipt.amount_fen else ""
        payment = f"已缴费（{amount}{_when(reg.payment.at)}）"
    else:
        payment = "未缴费"
    review = reg.qualification
    if review is None:
        qualification = "未提交"
    elif review.automatic:
        qualification = f"{review.status.label}（无需审核材料）"
    elif review.decided_at:
        qualification = f"{review.status.label}（{_when(review.decided_at)}）"
    else:
        qualification = review.status.label
    return Progress(_when(reg.confirmed_at), identity, payment, qualification)


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def session_lines(sessions: Iterable[ExamSessionRow]) -> list[tuple[str, str, str]]:
    return [(day_text(s.day), f"{s.start}-{s.end}", s.subject) for s in sessions]
