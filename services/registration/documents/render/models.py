"""What the documents print, as plain values: the use cases fill them, the renderers lay them out.

Every value is already text as it is printed (names, not codes; dates formatted; numbers masked
where the reader must not see them), so a renderer makes no decision about data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ResumeLine:
    start: str
    end: str
    unit: str
    role: str


@dataclass(frozen=True)
class Person:
    """The candidate's registration as printed."""

    candidate_no: str
    name: str
    sex: str
    ethnicity: str
    political_status: str
    birth_date: str
    id_number: str
    phone: str
    graduated_school: str
    college_major_code: str
    college_major_name: str
    candidate_category: str
    candidate_type: str
    major_category: str
    music_test_subject: str
    city: str
    point: str
    poverty_registered: str
    claims_bonus_points: str
    awards: str
    household: str
    recipient: str
    recipient_phone: str
    postal_code: str
    mailing_address: str
    resume: tuple[ResumeLine, ...] = ()


@dataclass(frozen=True)
class Progress:
    """The registration's statuses (报名信息登记表, 2.8.7.2)."""

    confirmed_at: str
    identity: str
    payment: str  # e.g. 已缴费（¥120.00，2026-03-02 10:15）
    qualification: str  # e.g. 审核通过（2026-03-05）


@dataclass(frozen=True)
class RegistrationFormView:
    exam_title: str
    person: Person
    progress: Progress
    photo: bytes | None


@dataclass(frozen=True)
class MedicalFormView:
    exam_title: str
    person: Person
    photo: bytes | None


@dataclass(frozen=True)
class BonusFormView:
    exam_title: str
    person: Person
    photo: bytes | None


@dataclass(frozen=True)
class SessionLine:
    day: str  # 2026年4月18日（星期六）
    time: str  # 09:00-11:30
    subject: str


@dataclass(frozen=True)
class TicketView:
    exam_title: str
    candidate_no: str
    name: str
    id_number: str  # masked
    major_category: str
    site_name: str
    site_address: str
    room_no: str
    room_location: str
    seat_no: str
    sessions: tuple[SessionLine, ...]
    verify_url: str
    token: str
    photo: bytes | None


def texts(value: object) -> list[str]:
    """Every string a view prints (to decide which fonts a document needs)."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, tuple):
        for item in value:
            out.extend(texts(item))
    elif hasattr(value, "__dataclass_fields__"):
        for f in fields(value):  # type: ignore[arg-type]
            out.extend(texts(getattr(value, f.name)))
    return out
