"""The province's exam plan: sites (考点) with rooms (考场), the timetable per 报考专业类别, the
exam's title and seed (the printing window is the calendar's 准考证打印 phase). Parsers turn raw
input into checked values or raise `InvalidArgument` with a Chinese message and its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time

from zsb.common.errors import InvalidArgument
from zsb.common.validators import parse_text

SITE_CODE = re.compile(r"[0-9A-Za-z]{2,10}")
ROOM_NO = re.compile(r"[0-9A-Za-z]{1,10}")
SEED = re.compile(r"[\x21-\x7e]{1,40}")
HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
MAX_CAPACITY = 200
MAX_ROOMS_PER_SITE = 500
SITE_NAME_MAX = 60
ADDRESS_MAX = 120
LOCATION_MAX = 60
SUBJECT_MAX = 40
TITLE_MAX = 60
DEFAULT_TITLE = "山西省普通高校专升本选拔考试"
DEFAULT_SEED = "zsb"


@dataclass(frozen=True)
class RoomSpec:
    room_no: str
    capacity: int
    location: str = ""  # e.g. 教学楼A座201


@dataclass(frozen=True)
class SiteSpec:
    code: str
    name: str
    city_code: str
    address: str
    rooms: tuple[RoomSpec, ...]


def parse_site(
    code: str, name: str, city_code: str, address: str, rooms: Sequence[tuple[str, int, str]], cities: Iterable[str]
) -> SiteSpec:
    """A site with its rooms; room numbers unique within the site."""
    code = (code or "").strip().upper()
    if not SITE_CODE.fullmatch(code):
        raise InvalidArgument("考点代码应为2-10位字母或数字", reason="BAD_SITE", field="code")
    if city_code not in set(cities):
        raise InvalidArgument("请选择考点所在地市", reason="BAD_SITE", field="city_code")
    name = parse_text(name, field="name", label="考点名称", max_length=SITE_NAME_MAX, min_length=2)
    address = parse_text(address, field="address", label="考点地址", max_length=ADDRESS_MAX)
    if len(rooms) > MAX_ROOMS_PER_SITE:
        raise InvalidArgument(f"一个考点最多{MAX_ROOMS_PER_SITE}个考场", reason="BAD_ROOM", field="rooms")
    parsed: list[RoomSpec] = []
    seen: set[str] = set()
    for i, (room_no, capacity, location) in enumerate(rooms, 1):
        number = (room_no or "").strip().upper()
        if not ROOM_NO.fullmatch(number):
            raise InvalidArgument(f"第{i}个考场：考场号应为1-10位字母或数字", reason="BAD_ROOM", field="rooms")
        if number in seen:
            raise InvalidArgument(f"考场号{number}重复", reason="BAD_ROOM", field="rooms")
        if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
            raise InvalidArgument(f"考场{number}：座位数应为1-{MAX_CAPACITY}", reason="BAD_ROOM", field="rooms")
        place = parse_text(location, field="rooms", label=f"考场{number}位置", max_length=LOCATION_MAX, required=False)
        seen.add(number)
        parsed.append(RoomSpec(number, capacity, place))
    return SiteSpec(code, name, city_code, address, tuple(parsed))


@dataclass(frozen=True)
class Session:
    """One subject of a category's timetable, in Beijing time."""

    major_category: str
    subject: str
    day: date
    start: time
    end: time

    def overlaps(self, other: Session) -> bool:
        return self.day == other.day and self.start < other.end and other.start < self.end


def _hhmm(raw: str, field: str, label: str) -> time:
    match = HHMM.fullmatch((raw or "").strip())
    if match is None:
        raise InvalidArgument(f"{label}格式应为时:分，例如09:00", reason="BAD_SESSION", field=field)
    return time(int(match[1]), int(match[2]))


def parse_session(
    major_category: str, subject: str, day: str, start: str, end: str, categories: Iterable[str]
) -> Session:
    if major_category not in set(categories):
        raise InvalidArgument("请选择报考专业类别", reason="BAD_SESSION", field="major_category")
    subject = parse_text(subject, field="subject", label="考试科目", max_length=SUBJECT_MAX)
    try:
        when = date.fromisoformat((day or "").strip())
    except ValueError:
        raise InvalidArgument("考试日期格式应为年-月-日，例如2026-04-18", reason="BAD_SESSION", field="day") from None
    begin, finish = _hhmm(start, "start", "开始时间"), _hhmm(end, "end", "结束时间")
    if finish <= begin:
        raise InvalidArgument("结束时间应晚于开始时间", reason="BAD_SESSION", field="end")
    return Session(major_category, subject, when, begin, finish)


def check_no_overlap(session: Session, others: Iterable[Session]) -> None:
    """A candidate cannot sit two papers at once: a category's sessions must not overlap."""
    for other in others:
        if other.major_category == session.major_category and session.overlaps(other):
            raise InvalidArgument(f"与同一类别的“{other.subject}”时间重叠", reason="SESSION_OVERLAP", field="start")


@dataclass(frozen=True)
class ExamSettings:
    """What the province sets once per exam. The printing window is not here: it is the
    calendar's 准考证打印 phase (zsb.common.calendar), set on the calendar page."""

    exam_title: str = DEFAULT_TITLE
    arrangement_seed: str = DEFAULT_SEED


def parse_settings(exam_title: str, seed: str) -> ExamSettings:
    title = parse_text(exam_title, field="exam_title", label="考试名称", max_length=TITLE_MAX, min_length=4)
    seed = (seed or "").strip() or DEFAULT_SEED
    if not SEED.fullmatch(seed):
        raise InvalidArgument("编排种子应为1-40个英文字母、数字或符号", reason="BAD_SEED", field="arrangement_seed")
    return ExamSettings(title, seed)
