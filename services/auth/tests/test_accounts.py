import re
from datetime import date

import pytest

from services.auth.domain.accounts import CandidateNumber, check_candidate_row, generate_initial_password
from zsb.common.errors import InvalidArgument

TODAY = date(2026, 3, 1)


def test_parses_the_manuals_example() -> None:
    n = CandidateNumber.parse(" 21145101130001 ")
    assert (n.value, n.year, n.city_code, n.point_code) == ("21145101130001", "21", "01", "0113")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "14位"),
        ("2114510113000", "14位"),
        ("211451011300011", "14位"),
        ("2114510113000A", "14位"),
        ("21135101130001", "省份"),
        ("21144101130001", "考试代码"),
        ("21145100130001", "地市"),
        ("21145112130001", "地市"),
        ("21145101130000", "序号"),
        ("２１145101130001", "14位"),  # full-width digits
    ],
)
def test_rejects_bad_numbers(raw: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as err:
        CandidateNumber.parse(raw)
    assert err.value.field == "candidate_no"


@pytest.mark.parametrize(
    ("name", "id_number", "phone", "point", "field"),
    [
        ("", "140105199001011238", "13812345678", "0113", "name"),
        ("张" * 31, "140105199001011238", "13812345678", "0113", "name"),
        ("张三", "14010519900101123", "13812345678", "0113", "id_number"),
        ("张三", "140105199001011238", "12812345678", "0113", "phone"),
        ("张三", "140105199001011238", "1381234567", "0113", "phone"),
        ("张三", "140105199001011238", "13812345678", "0114", "point_code"),
    ],
)
def test_row_checks_name_the_field(name: str, id_number: str, phone: str, point: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_candidate_row(name, id_number, phone, point, CandidateNumber.parse("21145101130001"), TODAY)
    assert err.value.field == field


def test_row_is_normalised() -> None:
    number = CandidateNumber.parse("21145101130001")
    assert check_candidate_row(" 张三 ", "14010519900101018x", "+86 138-1234-5678", "0113", number, TODAY) == (
        "张三",
        "14010519900101018X",
        "13812345678",
    )


def test_initial_passwords_meet_the_rule_and_differ() -> None:
    passwords = {generate_initial_password() for _ in range(200)}
    assert len(passwords) == 200
    for p in passwords:
        assert len(p) == 12
        assert re.search(r"[A-Z]", p) and re.search(r"[a-z]", p) and re.search(r"\d", p) and re.search(r"[!@#%&*_]", p)
