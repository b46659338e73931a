"""Validators of personal-data fields (ID number, phone, names, text, dates), shared by services; pure, no I/O.

Each validator normalizes its input and returns the clean value, or raises `InvalidArgument` whose
Chinese message names the field and whose `field` is the form's field key, so the form can collect
every error at once. Digits are matched as ASCII `[0-9]` on purpose: `\\d` would accept full-width
and other Unicode digits, which must never reach a stored ID number or phone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from zsb.common.errors import InvalidArgument

# GB/T 2260 province-level codes of the mainland: the first two digits of an ID number's region code.
# 71 (台湾), 81 (香港), 82 (澳门) and 83 (台湾居民居住证) are not mainland resident ID numbers.
MAINLAND_PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}

MIN_AGE = 16
MAX_AGE = 60

# ISO 7064 MOD 11-2 as GB 11643-1999 applies it: weights 2^(17-i) mod 11, check value (12 - sum) mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_18 = re.compile(r"[0-9]{17}[0-9X]")
_ID_15 = re.compile(r"[0-9]{15}")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_POSTAL_CODE = re.compile(r"(0[1-9]|[1-8][0-9])[0-9]{4}")
_PHONE_SEPARATORS = re.compile(r"[\s-]")
_MONTH = re.compile(r"([0-9]{4})[-./]([0-9]{1,2})")
_DAY = re.compile(r"([0-9]{4})[-./]([0-9]{1,2})[-./]([0-9]{1,2})")

# Variants of the interpunct people type between the parts of a minority name (e.g. 阿依古丽·买买提).
_NAME_DOTS = {"·": "·", "•": "·", "・": "·", "．": "·", "‧": "·", "∙": "·", "⋅": "·"}
NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 30

# CJK ideograph blocks (basic, extensions A-H, compatibility) plus 〇, which appears in real names.
_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2EBEF),
    (0x2F800, 0x2FA1F),
    (0x30000, 0x323AF),
)


class Sex(StrEnum):
    MALE = "男"
    FEMALE = "女"


def _fail(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_FIELD", field=field)


def id_check_char(first17: str) -> str:
    """The 18th character of an ID number whose first 17 digits are given."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def age_on(birth: date, today: date) -> int:
    """Full years of age on `today`; someone born on 29 Feb has birthdays on 1 Mar in common years."""
    had_birthday = (today.month, today.day) >= (birth.month, birth.day)
    return today.year - birth.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class IdNumber:
    """A checked 18-digit 居民身份证号码 and what it says about its holder."""

    value: str
    region_code: str
    birth_date: date
    sex: Sex

    @property
    def province_code(self) -> str:
        return self.region_code[:2]


def parse_id_number(
    raw: str | None,
    today: date,
    *,
    min_age: int = MIN_AGE,
    max_age: int = MAX_AGE,
    field: str = "id_number",
) -> IdNumber:
    """Check a 身份证号 per GB 11643-1999; lower-case x is accepted and stored as X."""
    value = (raw or "").strip().upper()
    if not value:
        raise _fail(field, "请填写身份证号")
    if _ID_15.fullmatch(value):
        raise _fail(field, "身份证号不支持15位旧号码，请填写18位身份证号")
    if not _ID_18.fullmatch(value):
        raise _fail(field, "身份证号应为18位：前17位为数字，最后一位为数字或X")
    if id_check_char(value[:17]) != value[17]:
        raise _fail(field, "身份证号校验位不正确，请核对后重新填写")
    if value[:2] not in MAINLAND_PROVINCES:
        raise _fail(field, "身份证号的地区码不正确")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise _fail(field, "身份证号中的出生日期无效") from None
    if birth > today:
        raise _fail(field, "身份证号中的出生日期不能晚于今天")
    age = age_on(birth, today)
    if not min_age <= age <= max_age:
        raise _fail(field, f"身份证号显示的年龄为{age}周岁，应在{min_age}至{max_age}周岁之间")
    sex = Sex.MALE if int(value[16]) % 2 == 1 else Sex.FEMALE
    return IdNumber(value=value, region_code=value[:6], birth_date=birth, sex=sex)


def parse_phone(raw: str | None, *, field: str = "phone", label: str = "手机号") -> str:
    """A mainland mobile number as 11 digits; spaces, hyphens and a +86 prefix are tolerated."""
    value = _PHONE_SEPARATORS.sub("", raw or "")
    if not value:
        raise _fail(field, f"请填写{label}")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    if not _PHONE.fullmatch(value):
        raise _fail(field, f"{label}应为11位中国大陆手机号码")
    return value


def parse_postal_code(raw: str | None, *, field: str = "postal_code") -> str:
    value = (raw or "").strip()
    if not value:
        raise _fail(field, "请填写邮政编码")
    if not _POSTAL_CODE.fullmatch(value):
        raise _fail(field, "邮政编码应为6位数字")
    return value


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return char == "〇" or any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def parse_person_name(
    raw: str | None,
    *,
    field: str = "name",
    label: str = "姓名",
    min_length: int = NAME_MIN_LENGTH,
    max_length: int = NAME_MAX_LENGTH,
) -> str:
    """A Chinese name as on the ID card: ideographs, with · between the parts of a minority name."""
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if not value:
        raise _fail(field, f"请填写{label}")
    value = "".join(_NAME_DOTS.get(c, c) for c in value)
    if not min_length <= len(value) <= max_length:
        raise _fail(field, f"{label}应为{min_length}至{max_length}个字")
    if any(c != "·" and not _is_cjk(c) for c in value):
        raise _fail(field, f"{label}只能包含汉字和间隔号“·”")
    if value.startswith("·") or value.endswith("·") or "··" in value:
        raise _fail(field, f"{label}中的间隔号“·”位置不正确")
    return value


def _forbidden_char(char: str, multiline: bool) -> bool:
    if multiline and char == "\n":
        return False
    # Cc: control characters; Cf: format characters such as U+202E (right-to-left override) and
    # zero-width spaces that make two values look equal; Cs/Co: surrogates and private use.
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"}


def parse_text(
    raw: str | None,
    *,
    field: str,
    label: str,
    max_length: int,
    min_length: int = 1,
    required: bool = True,
    multiline: bool = False,
) -> str:
    """Free text: trimmed, NFC, length-limited, without control or invisible format characters."""
    value = unicodedata.normalize("NFC", raw or "")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    if not value:
        if required:
            raise _fail(field, f"请填写{label}")
        return ""
    if any(_forbidden_char(c, multiline) for c in value):
        raise _fail(field, f"{label}包含不允许的控制字符")
    if len(value) < min_length:
        raise _fail(field, f"{label}至少{min_length}个字")
    if len(value) > max_length:
        raise _fail(field, f"{label}不能超过{max_length}个字")
    return value


def parse_date(raw: str | date | None, *, field: str, label: str, today: date) -> date:
    """A calendar date, 2001-09-01 (also 2001.09.01 or 2001/9/1), not after `today`."""
    if isinstance(raw, date):
        value = raw
    else:
        text = (raw or "").strip()
        if not text:
            raise _fail(field, f"请填写{label}")
        match = _DAY.fullmatch(text)
        if match is None:
            raise _fail(field, f"{label}格式应为年-月-日，例如2001-09-01")
        try:
            value = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise _fail(field, f"{label}不是有效的日期") from None
    if value > today:
        raise _fail(field, f"{label}不能晚于今天")
    return value


def parse_month(raw: str | date | None, *, field: str, label: str, today: date) -> date:
    """A 年月 of the 个人简历 (2019-09, 2019.09, or a full date); the day is set to 1."""
    if isinstance(raw, date):
        value = raw.replace(day=1)
    else:
        text = (raw or "").strip()
        if not text:
            raise _fail(field, f"请填写{label}")
        match = _MONTH.fullmatch(text) or _DAY.fullmatch(text)
        if match is None:
            raise _fail(field, f"{label}格式应为年-月，例如2019-09")
        try:
            value = date(int(match[1]), int(match[2]), 1)
            if match.re is _DAY:
                date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise _fail(field, f"{label}不是有效的年月") from None
    if value > today.replace(day=1):
        raise _fail(field, f"{label}不能晚于当前年月")
    return value


def parse_bool(raw: object, *, field: str, label: str) -> bool:
    """A yes/no radio button: a bool, or 是/否, true/false, 1/0 from a web form."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if raw is not None else ""
    if text in {"是", "true", "1", "yes", "on"}:
        return True
    if text in {"否", "false", "0", "no", "off"}:
        return False
    if not text:
        raise _fail(field, f"请选择{label}")
    raise _fail(field, f"{label}只能选择“是”或“否”")


def parse_sex(raw: str | None, *, field: str = "sex") -> Sex:
    text = (raw or "").strip()
    if not text:
        raise _fail(field, "请选择性别")
    # GB/T 2261.1 codes 1 and 2 are what drop-downs often send.
    mapping = {"男": Sex.MALE, "女": Sex.FEMALE, "1": Sex.MALE, "2": Sex.FEMALE}
    if text not in mapping:
        raise _fail(field, "性别只能选择“男”或“女”")
    return mapping[text]
