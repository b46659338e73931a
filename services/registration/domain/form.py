"""The 填写基本信息 form (manual 2.8.2, the 报名信息登记表 of 2.8.7.2) and its validation.

`parse_basic_info` takes the raw submitted values (strings from a web form or a gRPC message),
checks every field against the validators and the province's reference data, and returns a
`BasicInfo` or raises `FormErrors` carrying ALL field errors at once (field key -> Chinese message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.registration.domain.documents import DocumentKind, required_documents
from services.registration.domain.reference import ReferenceData
from zsb.common.errors import InvalidArgument
from zsb.common.validators import (
    MAINLAND_PROVINCES,
    IdNumber,
    Sex,
    parse_bool,
    parse_date,
    parse_id_number,
    parse_month,
    parse_person_name,
    parse_phone,
    parse_postal_code,
    parse_sex,
    parse_text,
)

# Field keys of the form and the labels its messages use.
FIELD_LABELS: dict[str, str] = {
    "name": "姓名",
    "sex": "性别",
    "ethnicity": "民族",
    "political_status": "政治面貌",
    "birth_date": "出生日期",
    "id_number": "身份证号",
    "phone": "手机号",
    "graduated_school": "毕业院校",
    "college_major_code": "专科所学专业代码",
    "college_major_name": "专科所学专业名称",
    "candidate_category": "考生类别",
    "candidate_type": "考生类型",
    "poverty_registered": "是否建档立卡贫困家庭",
    "claims_bonus_points": "是否申请奖励加分",
    "awards": "获奖情况",
    "city_code": "所在市",
    "point_code": "报名点",
    "major_category": "报考专业(类别)",
    "music_test_subject": "测试主项",
    "household_province": "户籍所在省",
    "household_city": "户籍所在市",
    "household_district": "户籍所在县（区）",
    "recipient": "收件人",
    "recipient_phone": "收件人手机号",
    "postal_code": "邮政编码",
    "mailing_address": "通知书邮寄地址",
    "resume": "个人简历",
}

SCHOOL_MAX_LENGTH = 50
MAJOR_NAME_MAX_LENGTH = 50
AWARDS_MAX_LENGTH = 500
HOUSEHOLD_PART_MAX_LENGTH = 30
ADDRESS_MIN_LENGTH = 5
ADDRESS_MAX_LENGTH = 100
RESUME_UNIT_MAX_LENGTH = 60
RESUME_ROLE_MAX_LENGTH = 30
RESUME_MAX_ROWS = 20
# 专科专业代码 of the 2021 catalogue: six digits, a K suffix for nationally controlled majors.
_MAJOR_CODE_CHARS = frozenset("0123456789")
UNTIL_NOW = "至今"


@dataclass(frozen=True)
class ResumeRow:
    """A row of the 个人简历: from (年月), to (年月, None = 至今), unit, role."""

    start: date
    end: date | None
    unit: str
    role: str


@dataclass(frozen=True)
class BasicInfo:
    """The validated 报名信息: drop-down fields hold reference-data codes."""

    name: str
    sex: Sex
    ethnicity: str
    political_status: str
    birth_date: date
    id_number: str
    phone: str
    graduated_school: str
    college_major_code: str
    college_major_name: str
    candidate_category: str
    candidate_type: str
    poverty_registered: bool
    claims_bonus_points: bool
    awards: str
    city_code: str
    point_code: str
    major_category: str
    music_test_subject: str  # "" unless the major category needs one
    household_province: str
    household_city: str
    household_district: str
    recipient: str
    recipient_phone: str
    postal_code: str
    mailing_address: str
    resume: tuple[ResumeRow, ...]

    def required_documents(self, reference: ReferenceData) -> frozenset[DocumentKind]:
        return required_documents(self, reference)

    def to_dict(self) -> dict[str, Any]:
        """The raw shape `parse_basic_info` accepts: for storage as JSON and for re-editing."""
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            if key == "resume":
                value = [
                    {
                        "start": f"{r.start:%Y-%m}",
                        "end": f"{r.end:%Y-%m}" if r.end else UNTIL_NOW,
                        "unit": r.unit,
                        "role": r.role,
                    }
                    for r in value
                ]
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Sex):
                value = value.value
            out[key] = value
        return out


class FormErrors(InvalidArgument):
    """Every field error of one submission; `errors` maps field keys to Chinese messages."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        first = next(iter(self.errors))
        super().__init__(
            f"报名信息有{len(self.errors)}处需要修改：{self.errors[first]}", reason="FORM_INVALID", field=first
        )


class _Collector:
    """Runs field checks and keeps the first error of each field."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def run(self, check: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except InvalidArgument as exc:
            self.add(exc.field, exc.message)
            return None


def _text(raw: Mapping[str, Any], key: str, field: str = "", label: str = "") -> str:
    """The raw value as text; numbers and dates are accepted, other shapes are an error."""
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    label = label or FIELD_LABELS.get(key, key)
    raise InvalidArgument(f"{label}格式不正确", reason="INVALID_FIELD", field=field or key)


def _choose(raw: Mapping[str, Any], key: str, options: Any) -> str:
    code = _text(raw, key).strip()
    label = FIELD_LABELS[key]
    if not code:
        raise InvalidArgument(f"请选择{label}", reason="INVALID_FIELD", field=key)
    if code not in options:
        raise InvalidArgument(f"{label}不在可选范围内，请重新选择", reason="INVALID_FIELD", field=key)
    return code


def _major_code(raw: Mapping[str, Any]) -> str:
    key = "college_major_code"
    code = _text(raw, key).strip().upper()
    if not code:
        raise InvalidArgument("请填写专科所学专业代码", reason="INVALID_FIELD", field=key)
    digits = code[:-1] if code.endswith("K") else code
    if len(digits) != 6 or not set(digits) <= _MAJOR_CODE_CHARS:
        raise InvalidArgument("专科所学专业代码应为6位数字（可带K后缀），例如530302", reason="INVALID_FIELD", field=key)
    return code


def _free(raw: Mapping[str, Any], key: str, max_length: int, **kwargs: Any) -> str:
    return parse_text(_text(raw, key), field=key, label=FIELD_LABELS[key], max_length=max_length, **kwargs)


def _resume(raw: Any, birth: date | None, today: date, c: _Collector) -> tuple[ResumeRow, ...]:
    if raw is None or raw == []:
        c.add("resume", "个人简历至少填写一行")
        return ()
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        c.add("resume", "个人简历格式不正确")
        return ()
    if len(raw) > RESUME_MAX_ROWS:
        c.add("resume", f"个人简历不能超过{RESUME_MAX_ROWS}行")
        return ()
    rows = []
    for i, row in enumerate(raw):
        prefix, label = f"resume.{i}", f"个人简历第{i + 1}行的"
        if not isinstance(row, Mapping):
            c.add(prefix, f"个人简历第{i + 1}行格式不正确")
            continue
        before = len(c.errors)

        def cell(key: str, what: str, row: Mapping[str, Any] = row, prefix: str = prefix) -> str:
            return c.run(_text, row, key, field=f"{prefix}.{key}", label=what) or ""

        start_label, end_label = f"{label}起始年月", f"{label}终止年月"
        unit_label, role_label = f"{label}学习或工作单位", f"{label}职务或身份"
        start = c.run(parse_month, cell("start", start_label), field=f"{prefix}.start", label=start_label, today=today)
        end_text = cell("end", end_label).strip()
        end = None
        if end_text and end_text != UNTIL_NOW:
            end = c.run(parse_month, end_text, field=f"{prefix}.end", label=end_label, today=today)
        unit = c.run(
            parse_text,
            cell("unit", unit_label),
            field=f"{prefix}.unit",
            label=unit_label,
            max_length=RESUME_UNIT_MAX_LENGTH,
        )
        role = c.run(
            parse_text,
            cell("role", role_label),
            field=f"{prefix}.role",
            label=role_label,
            max_length=RESUME_ROLE_MAX_LENGTH,
        )
        if start and end and end < start:
            c.add(f"{prefix}.end", f"{end_label}不能早于起始年月")
        if start and birth and start < birth.replace(day=1):
            c.add(f"{prefix}.start", f"{start_label}不能早于出生日期")
        if len(c.errors) == before:
            rows.append(ResumeRow(start=start, end=end, unit=unit, role=role))
    return tuple(rows)


def parse_basic_info(raw: Mapping[str, Any], reference: ReferenceData, today: date) -> BasicInfo:
    """Validate a submission of 填写基本信息; raises FormErrors listing every wrong field."""
    c = _Collector()
    text = lambda key: c.run(_text, raw, key)  # noqa: E731 - a local shorthand

    name = c.run(parse_person_name, text("name"))
    sex = c.run(parse_sex, text("sex"))
    ethnicity = c.run(_choose, raw, "ethnicity", reference.ethnicities)
    political_status = c.run(_choose, raw, "political_status", reference.political_statuses)
    birth_date = c.run(parse_date, text("birth_date"), field="birth_date", label="出生日期", today=today)
    id_number: IdNumber | None = c.run(
        parse_id_number, text("id_number"), today, min_age=reference.min_age, max_age=reference.max_age
    )
    phone = c.run(parse_phone, text("phone"))
    school = c.run(_free, raw, "graduated_school", SCHOOL_MAX_LENGTH, min_length=2)
    major_code = c.run(_major_code, raw)
    major_name = c.run(_free, raw, "college_major_name", MAJOR_NAME_MAX_LENGTH)
    candidate_category = c.run(_choose, raw, "candidate_category", reference.candidate_categories)
    candidate_type = c.run(_choose, raw, "candidate_type", reference.candidate_types)
    poverty = c.run(parse_bool, raw.get("poverty_registered"), field="poverty_registered", label="是否建档立卡贫困家庭")
    bonus = c.run(parse_bool, raw.get("claims_bonus_points"), field="claims_bonus_points", label="是否申请奖励加分")
    awards = c.run(_free, raw, "awards", AWARDS_MAX_LENGTH, required=bool(bonus), multiline=True)
    if bonus and "awards" in c.errors and not text("awards"):
        c.errors["awards"] = "申请奖励加分请填写获奖情况"
    city_code = c.run(_choose, raw, "city_code", reference.cities)
    point_code = c.run(_choose, raw, "point_code", reference.points)
    major_category = c.run(_choose, raw, "major_category", reference.major_categories)
    household_province = c.run(_choose, raw, "household_province", MAINLAND_PROVINCES)
    household_city = c.run(_free, raw, "household_city", HOUSEHOLD_PART_MAX_LENGTH)
    household_district = c.run(_free, raw, "household_district", HOUSEHOLD_PART_MAX_LENGTH)
    recipient = c.run(parse_person_name, text("recipient"), field="recipient", label="收件人")
    recipient_phone = c.run(parse_phone, text("recipient_phone"), field="recipient_phone", label="收件人手机号")
    postal_code = c.run(parse_postal_code, text("postal_code"))
    address = c.run(_free, raw, "mailing_address", ADDRESS_MAX_LENGTH, min_length=ADDRESS_MIN_LENGTH)

    # Cross-field rules.
    if id_number and sex and id_number.sex is not sex:
        c.add("sex", f"性别与身份证号不一致（身份证号显示为{id_number.sex.value}）")
    if id_number and birth_date and id_number.birth_date != birth_date:
        c.add("birth_date", f"出生日期与身份证号不一致（身份证号显示为{id_number.birth_date.isoformat()}）")
    point = reference.point(point_code) if point_code else None
    if point and city_code and point.city_code != city_code:
        c.add("point_code", "报名点不属于所选的所在市，请重新选择")
    category = reference.major_category(major_category) if major_category else None
    if category and candidate_category and category.candidate_category != candidate_category:
        c.add("major_category", "报考专业(类别)与考生类别不符，请重新选择")
    test_subject = ""
    if category and category.needs_test_subject:
        test_subject = c.run(_choose, raw, "music_test_subject", reference.music_test_subjects) or ""
        if "music_test_subject" in c.errors and not text("music_test_subject"):
            c.errors["music_test_subject"] = f"{category.name}考生请选择测试主项"

    resume = _resume(raw.get("resume"), id_number.birth_date if id_number else birth_date, today, c)

    if c.errors:
        raise FormErrors(c.errors)
    assert id_number is not None and sex is not None and birth_date is not None
    return BasicInfo(
        name=name,
        sex=sex,
        ethnicity=ethnicity,
        political_status=political_status,
        birth_date=birth_date,
        id_number=id_number.value,
        phone=phone,
        graduated_school=school,
        college_major_code=major_code,
        college_major_name=major_name,
        candidate_category=candidate_category,
        candidate_type=candidate_type,
        poverty_registered=poverty,
        claims_bonus_points=bonus,
        awards=awards,
        city_code=city_code,
        point_code=point_code,
        major_category=major_category,
        music_test_subject=test_subject,
        household_province=household_province,
        household_city=household_city,
        household_district=household_district,
        recipient=recipient,
        recipient_phone=recipient_phone,
        postal_code=postal_code,
        mailing_address=address,
        resume=resume,
    )


def check_basic_info(raw: Mapping[str, Any], reference: ReferenceData, today: date) -> dict[str, str]:
    """The field errors of a submission, empty when it is valid (for showing errors next to fields)."""
    try:
        parse_basic_info(raw, reference, today)
    except FormErrors as exc:
        return exc.errors
    return {}
