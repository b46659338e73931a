"""The fee schedule: one amount (integer fen) per 考生类别, set by the province.

The seed (migration 0002) is an example for a fresh installation; the province sets the year's
amounts through the admin page or `SetFee`. An order keeps the amount it was created with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zsb.common.errors import InvalidArgument

MAX_FEE_FEN = 1_000_000  # ¥10,000.00: far above any exam fee, refuses a slipped digit
_CODE = re.compile(r"^[0-9A-Za-z]{1,4}$")

# 考生类别 as the registration service's seed names them; amounts are an example.
DEFAULT_FEES: tuple[tuple[str, str, int], ...] = (
    ("1", "普通类", 15000),
    ("2", "艺术类", 25000),
    ("3", "体育类", 25000),
)


@dataclass(frozen=True)
class Fee:
    category_code: str
    category_name: str
    amount_fen: int


def parse_fee(category_code: str, category_name: str, amount_fen: int) -> Fee:
    """A fee the province may set, or InvalidArgument naming the field."""
    code = (category_code or "").strip()
    name = (category_name or "").strip()
    if not _CODE.match(code):
        raise InvalidArgument("考生类别代码应为1-4位字母或数字", field="category_code")
    if not name or len(name) > 20:
        raise InvalidArgument("请输入考生类别名称（不超过20个字）", field="category_name")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 1 <= amount_fen <= MAX_FEE_FEN:
        raise InvalidArgument("报名费应为0.01元至10000.00元之间的金额", field="amount_fen")
    return Fee(code, name, amount_fen)


def yuan_text(fen: int) -> str:
    """12345 -> '123.45' for people (money is never a float)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


_YUAN = re.compile(r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$")


def parse_yuan(text: str) -> int:
    """'150' or '150.5' or '150.50' -> fen, exactly; anything else is InvalidArgument."""
    text = (text or "").strip()
    if not _YUAN.match(text):
        raise InvalidArgument("金额格式不正确，应为元，最多两位小数，如 150.00", field="amount_fen")
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])
