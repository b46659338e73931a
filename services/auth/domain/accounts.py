"""Rules of accounts: 考生号 format, imported rows and initial passwords."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from services.auth.domain.passwords import SPECIALS
from zsb.common.errors import InvalidArgument

PROVINCE_CODE = "14"  # 山西
EXAM_CODE = "51"  # 专升本
_CANDIDATE_NO = re.compile(r"^[0-9]{14}$")
_PHONE = re.compile(r"^1[3-9][0-9]{9}$")
_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")
MAX_NAME_LENGTH = 30


@dataclass(frozen=True)
class CandidateNumber:
    """考生号, e.g. 21145101130001: year 21, province 14, exam 51, city 01, point 13, serial 0001."""

    value: str

    @property
    def year(self) -> str:
        return self.value[0:2]

    @property
    def city_code(self) -> str:
        return self.value[6:8]

    @property
    def point_code(self) -> str:
        """The registration point (报名点) code, unique in the province: city + point."""
        return self.value[6:10]

    @classmethod
    def parse(cls, raw: str) -> CandidateNumber:
        value = (raw or "").strip()
        if not _CANDIDATE_NO.match(value):
            raise InvalidArgument("考生号应为14位数字", field="candidate_no")
        if value[2:4] != PROVINCE_CODE or value[4:6] != EXAM_CODE:
            raise InvalidArgument("考生号格式不正确（省份或考试代码错误）", field="candidate_no")
        if not 1 <= int(value[6:8]) <= 11:
            raise InvalidArgument("考生号中的地市代码不正确", field="candidate_no")
        if value[10:14] == "0000":
            raise InvalidArgument("考生号中的序号不正确", field="candidate_no")
        return cls(value)


def check_candidate_row(name: str, id_number: str, phone: str, point_code: str, number: CandidateNumber) -> None:
    """Field checks of one imported row; raises InvalidArgument naming the field."""
    if not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"姓名不能为空且不超过{MAX_NAME_LENGTH}个字", field="name")
    if not _ID_NUMBER.match(id_number.strip().upper()):
        raise InvalidArgument("身份证号应为18位", field="id_number")
    if not _PHONE.match(phone.strip()):
        raise InvalidArgument("手机号格式不正确", field="phone")
    if point_code.strip() != number.point_code:
        raise InvalidArgument("报名点与考生号不一致", field="point_code")


def generate_initial_password(length: int = 12) -> str:
    """A random password meeting the platform's rule (upper, lower, digit, special)."""
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIALS]
    alphabet = "".join(pools)
    chars = [secrets.choice(pool) for pool in pools]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
