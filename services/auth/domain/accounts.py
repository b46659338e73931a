"""Rules of accounts: 考生号 format, imported rows and initial passwords."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import date

from services.auth.domain.passwords import SPECIALS
from zsb.common.errors import InvalidArgument
from zsb.common.validators import parse_id_number, parse_person_name, parse_phone

PROVINCE_CODE = "14"  # 山西
EXAM_CODE = "51"  # 专升本
_CANDIDATE_NO = re.compile(r"^[0-9]{14}$")


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


def check_candidate_row(
    name: str, id_number: str, phone: str, point_code: str, number: CandidateNumber, today: date
) -> tuple[str, str, str]:
    """Field checks of one imported row; returns the normalised (name, ID number, phone).

    Raises InvalidArgument naming the field.
    """
    clean_name = parse_person_name(name)
    clean_id = parse_id_number(id_number, today).value
    clean_phone = parse_phone(phone)
    if point_code.strip() != number.point_code:
        raise InvalidArgument("报名点与考生号不一致", field="point_code")
    return clean_name, clean_id, clean_phone


def generate_initial_password(length: int = 12) -> str:
    """A random password meeting the platform's rule (upper, lower, digit, special)."""
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIALS]
    alphabet = "".join(pools)
    chars = [secrets.choice(pool) for pool in pools]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
