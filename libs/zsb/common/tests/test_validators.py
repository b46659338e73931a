"""Unit tests of the field validators, with many real-looking good and bad ID numbers."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zsb.common.errors import InvalidArgument
from zsb.common.validators import (
    MAINLAND_PROVINCES,
    Sex,
    age_on,
    id_check_char,
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

TODAY = date(2026, 3, 1)


def make_id(region: str, birth: str, seq: str) -> str:
    """A valid ID number: the check digit computed per GB 11643-1999."""
    first17 = region + birth + seq
    return first17 + id_check_char(first17)


def id_error(raw: str, **kwargs: object) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_id_number(raw, TODAY, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == "id_number"
    assert "身份证号" in info.value.message  # every message names its field
    return info.value.message


# --- the check digit -----------------------------------------------------------------------------


def test_check_digit_of_the_standards_examples() -> None:
    # The worked examples of GB 11643-1999 and common references.
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"
    assert id_check_char("14010519900101123") == "8"  # by hand: weighted sum 169, 169 % 11 = 4 -> "8"


@pytest.mark.parametrize("bad", ["", "1234", "1401051990010112X", "１４０１０５１９９００１０１１２３"])
def test_check_char_needs_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        id_check_char(bad)


# --- valid ID numbers ------------------------------------------------------------------------------

VALID = [
    ("140105", "20010915", "123"),  # 太原市小店区
    ("140202", "19991231", "014"),  # 大同
    ("140421", "20000229", "035"),  # 长治, 29 Feb of a leap year
    ("142601", "19980607", "258"),  # an old 临汾地区 code, still on cards
    ("141002", "20030228", "007"),  # 临汾尧都区
    ("110101", "19900101", "001"),  # 北京东城
    ("500103", "19870514", "062"),  # 重庆渝中
    ("652801", "19950720", "331"),  # 新疆库尔勒
    ("540102", "19660301", "548"),  # 西藏拉萨, exactly 60 on the day
    ("370202", "20100301", "416"),  # 青岛, exactly 16 on the day
]


@pytest.mark.parametrize(("region", "birth", "seq"), VALID)
def test_valid_id_numbers_parse(region: str, birth: str, seq: str) -> None:
    value = make_id(region, birth, seq)
    parsed = parse_id_number(value, TODAY)
    assert parsed.value == value
    assert parsed.region_code == region
    assert parsed.province_code == region[:2]
    assert parsed.birth_date == date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    assert parsed.sex is (Sex.MALE if int(seq[2]) % 2 else Sex.FEMALE)


def test_x_check_digit_and_lower_case_x() -> None:
    # Find a real-looking number whose check character is X.
    candidates = (make_id("140105", "20000101", f"{n:03d}") for n in range(1000))
    value = next(v for v in candidates if v.endswith("X"))
    assert parse_id_number(value, TODAY).value == value
    assert parse_id_number(value.lower(), TODAY).value == value
    assert parse_id_number(f"  {value}\t", TODAY).value == value
    assert parse_id_number("11010519491231002X", TODAY, max_age=100).sex is Sex.FEMALE


def test_sex_comes_from_the_17th_digit() -> None:
    for digit in range(10):
        parsed = parse_id_number(make_id("140105", "20000101", f"12{digit}"), TODAY)
        assert parsed.sex is (Sex.MALE if digit % 2 else Sex.FEMALE)


# --- invalid ID numbers ----------------------------------------------------------------------------


def test_wrong_check_digits_are_rejected() -> None:
    for region, birth, seq in VALID:
        value = make_id(region, birth, seq)
        for wrong in "0123456789X":
            if wrong != value[17]:
                assert "校验位" in id_error(value[:17] + wrong)


def test_the_standards_example_with_a_wrong_check_digit() -> None:
    assert "校验位" in id_error("110105194912310021")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "请填写身份证号"),
        ("   ", "请填写身份证号"),
        ("140105990101123", "15位"),  # the old 15-digit format
        ("14010519900101123", "18位"),  # 17 digits
        ("1401051990010112385", "18位"),  # 19 digits
        ("14010519900101X232", "18位"),  # X not last
        ("1401051990O1011232", "18位"),  # letter O for zero
        ("140105 199001011232", "18位"),  # a space inside
        ("１４０１０５１９９００１０１１２３２", "18位"),  # full-width digits
        ("١٤٠١٠٥١٩٩٠٠١٠١١٢٣٢", "18位"),  # Arabic-Indic digits (\\d would accept them)
        ("14010519900101123\u200b2", "18位"),  # a zero-width space inside
    ],
)
def test_malformed_id_numbers(raw: str, expected: str) -> None:
    assert expected in id_error(raw)


def test_feb_29_of_a_common_year_is_not_a_date() -> None:
    assert "出生日期无效" in id_error(make_id("140105", "19990229", "123"))
    assert "出生日期无效" in id_error(make_id("140105", "19000229", "123"), max_age=200)  # 1900: not leap
    assert parse_id_number(make_id("140105", "20000229", "123"), TODAY).birth_date == date(2000, 2, 29)


@pytest.mark.parametrize("birth", ["19901301", "19900001", "19900100", "19900132", "19900431", "00000101"])
def test_impossible_birth_dates(birth: str) -> None:
    assert "出生日期无效" in id_error(make_id("140105", birth, "123"), max_age=3000)


def test_future_birth_date() -> None:
    assert "晚于今天" in id_error(make_id("140105", "20300101", "123"))
    assert "晚于今天" in id_error(make_id("140105", "20260302", "123"))


@pytest.mark.parametrize(
    ("birth", "ok"),
    [
        ("20100301", True),  # 16 today
        ("20100302", False),  # 16 tomorrow: still 15
        ("19660301", True),  # 60 today
        ("19650302", True),  # 61 tomorrow: still 60
        ("19650301", False),  # 61 today
        ("20150101", False),  # a child
    ],
)
def test_plausible_age(birth: str, ok: bool) -> None:
    value = make_id("140105", birth, "123")
    if ok:
        assert parse_id_number(value, TODAY).value == value
    else:
        assert "应在16至60周岁之间" in id_error(value)


def test_age_on_birthdays() -> None:
    assert age_on(date(2000, 3, 1), date(2026, 3, 1)) == 26
    assert age_on(date(2000, 3, 2), date(2026, 3, 1)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25  # a common year: birthday on 1 March
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26
    assert age_on(date(2000, 2, 29), date(2028, 2, 29)) == 28


def test_age_range_is_a_parameter() -> None:
    value = make_id("140105", "20120101", "123")  # 14
    assert "周岁" in id_error(value)
    assert parse_id_number(value, TODAY, min_age=14).value == value


@pytest.mark.parametrize(
    "province", ["00", "10", "16", "20", "30", "39", "47", "55", "60", "66", "71", "81", "82", "83", "91", "99"]
)
def test_region_codes_outside_the_mainland_provinces(province: str) -> None:
    assert "地区码" in id_error(make_id(province + "0105", "20000101", "123"))


def test_every_mainland_province_code_is_accepted() -> None:
    assert len(MAINLAND_PROVINCES) == 31
    for code in MAINLAND_PROVINCES:
        value = make_id(code + "0101", "20000101", "123")
        assert parse_id_number(value, TODAY).province_code == code


# --- properties ------------------------------------------------------------------------------------

provinces = st.sampled_from(sorted(MAINLAND_PROVINCES))
birth_dates = st.dates(min_value=TODAY.replace(year=TODAY.year - 60), max_value=TODAY.replace(year=TODAY.year - 16))


@st.composite
def valid_ids(draw: st.DrawFn) -> tuple[str, date, int]:
    region = draw(provinces) + draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    born = draw(birth_dates)
    seq = draw(st.integers(0, 999))
    return make_id(region, f"{born:%Y%m%d}", f"{seq:03d}"), born, seq


@given(valid_ids())
def test_property_valid_numbers_round_trip(case: tuple[str, date, int]) -> None:
    value, born, seq = case
    parsed = parse_id_number(value, TODAY)
    assert parsed.value == value
    assert parsed.birth_date == born
    assert parsed.sex is (Sex.MALE if seq % 2 else Sex.FEMALE)


@given(valid_ids(), st.integers(0, 16), st.integers(1, 9))
def test_property_any_single_digit_error_is_caught(case: tuple[str, date, int], pos: int, delta: int) -> None:
    value = case[0]
    wrong = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1 :]
    assert "校验位" in id_error(wrong)


@given(valid_ids(), st.integers(0, 15))
def test_property_adjacent_transpositions_are_caught(case: tuple[str, date, int], pos: int) -> None:
    value = case[0]
    if value[pos] == value[pos + 1]:
        return
    swapped = value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]
    assert "校验位" in id_error(swapped)


@given(st.text(max_size=30))
@settings(max_examples=300)
def test_property_arbitrary_text_never_crashes(raw: str) -> None:
    try:
        parsed = parse_id_number(raw, TODAY)
    except InvalidArgument as exc:
        assert exc.field == "id_number"
    else:
        assert parsed.value.isascii() and len(parsed.value) == 18


# --- phones, postal codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("16612345678", "16612345678"),
        ("14712345678", "14712345678"),
        (" 15034567890 ", "15034567890"),
        ("138-1234-5678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
    ],
)
def test_good_phones(raw: str, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12812345678",  # 12x is not a mobile prefix
        "10012345678",
        "23812345678",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "１３８１２３４５６７８",  # full-width
        "1381234567a",
        "0351-1234567",  # a landline of 太原
        "+85291234567",  # Hong Kong
        "13812345678x",
    ],
)
def test_bad_phones(raw: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_phone(raw)
    assert info.value.field == "phone"
    assert "手机号" in info.value.message


def test_phone_messages_name_their_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_phone("", field="recipient_phone", label="收件人手机号")
    assert (info.value.field, info.value.message) == ("recipient_phone", "请填写收件人手机号")


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_property_every_mobile_number_is_accepted(raw: str) -> None:
    assert parse_phone(raw) == raw


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=11, max_size=11))
def test_property_only_ascii_digits_make_a_phone(raw: str) -> None:
    if raw.isascii():
        return
    with pytest.raises(InvalidArgument):
        parse_phone(raw)


@pytest.mark.parametrize("raw", ["030001", "030006", "037000", "100000", "046000"])
def test_good_postal_codes(raw: str) -> None:
    assert parse_postal_code(f" {raw} ") == raw


@pytest.mark.parametrize("raw", ["", "03000", "0300011", "03000a", "000000", "003000", "900000", "０３０００１"])
def test_bad_postal_codes(raw: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_postal_code(raw)
    assert info.value.field == "postal_code"
    assert "邮政编码" in info.value.message


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        (" 欧阳娜娜 ", "欧阳娜娜"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # bullet normalized to the middle dot
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # katakana middle dot
        ("爱新觉罗·溥仪", "爱新觉罗·溥仪"),
        ("王𠇔", "王𠇔"),  # an extension-B ideograph
        ("李〇", "李〇"),
        ("㐀㐁", "㐀㐁"),  # extension A
    ],
)
def test_good_names(raw: str, expected: str) -> None:
    assert parse_person_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "请填写姓名"),
        ("张", "2至30个字"),
        ("张" * 31, "2至30个字"),
        ("Zhang San", "只能包含汉字"),
        ("张3", "只能包含汉字"),
        ("张 三", "只能包含汉字"),
        ("张\u200b三", "只能包含汉字"),
        ("张\x00三", "只能包含汉字"),
        ("·张三", "间隔号"),
        ("张三·", "间隔号"),
        ("张··三", "间隔号"),
    ],
)
def test_bad_names(raw: str, expected: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_person_name(raw)
    assert expected in info.value.message
    assert "姓名" in info.value.message
    assert info.value.field == "name"


# --- free text -------------------------------------------------------------------------------------


def text_error(raw: str, **kwargs: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        parse_text(raw, field="school", label="毕业院校", max_length=10, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_free_text_is_trimmed_and_normalized() -> None:
    assert parse_text("  山西大学 ", field="f", label="x", max_length=10) == "山西大学"
    assert parse_text("Cafe\u0301", field="f", label="x", max_length=10) == "Café"  # NFC


@pytest.mark.parametrize(
    "bad", ["山西\x00大学", "山西\x1b[31m", "山西\u202e学大", "山西\u200b大学", "山西\ufeff", "山西\ue000"]
)
def test_control_and_invisible_characters_are_rejected(bad: str) -> None:
    error = text_error(bad)
    assert error.field == "school"
    assert error.message == "毕业院校包含不允许的控制字符"


def test_newlines_only_in_multiline_text() -> None:
    assert "控制字符" in text_error("山西\n大学").message
    assert parse_text("一等奖\r\n二等奖", field="f", label="x", max_length=10, multiline=True) == "一等奖\n二等奖"
    assert "控制字符" in text_error("一等奖\t二等奖", multiline=True).message


def test_text_length_limits() -> None:
    assert text_error("一" * 11).message == "毕业院校不能超过10个字"
    assert parse_text("一" * 10, field="f", label="x", max_length=10) == "一" * 10
    assert text_error("一", min_length=2).message == "毕业院校至少2个字"
    assert text_error("   ").message == "请填写毕业院校"
    assert parse_text("", field="f", label="x", max_length=10, required=False) == ""


@given(st.text(max_size=40), st.booleans())
@settings(max_examples=300)
def test_property_accepted_text_is_clean(raw: str, multiline: bool) -> None:
    try:
        value = parse_text(raw, field="f", label="x", max_length=20, multiline=multiline)
    except InvalidArgument:
        return
    assert 1 <= len(value) <= 20
    assert value == value.strip()
    for c in value:
        assert unicodedata.category(c) not in {"Cf", "Cs", "Co"}
        assert unicodedata.category(c) != "Cc" or (multiline and c == "\n")


# --- dates, months, yes/no, sex --------------------------------------------------------------------


def test_dates() -> None:
    assert parse_date("2001-09-01", field="d", label="出生日期", today=TODAY) == date(2001, 9, 1)
    assert parse_date("2001.9.1", field="d", label="出生日期", today=TODAY) == date(2001, 9, 1)
    assert parse_date(date(2001, 9, 1), field="d", label="出生日期", today=TODAY) == date(2001, 9, 1)
    for bad, message in [
        ("", "请填写出生日期"),
        ("2001-02-29", "不是有效的日期"),
        ("20010901", "格式"),
        ("2001-09", "格式"),
        ("２００１-09-01", "格式"),
        (str(TODAY + timedelta(days=1)), "不能晚于今天"),
    ]:
        with pytest.raises(InvalidArgument) as info:
            parse_date(bad, field="d", label="出生日期", today=TODAY)
        assert message in info.value.message and "出生日期" in info.value.message


def test_months() -> None:
    assert parse_month("2019-09", field="m", label="起始年月", today=TODAY) == date(2019, 9, 1)
    assert parse_month("2019.9", field="m", label="起始年月", today=TODAY) == date(2019, 9, 1)
    assert parse_month("2019-09-15", field="m", label="起始年月", today=TODAY) == date(2019, 9, 1)
    assert parse_month("2026-03", field="m", label="起始年月", today=TODAY) == date(2026, 3, 1)  # this month
    for bad, message in [
        ("2019-13", "不是有效的年月"),
        ("2019-02-30", "不是有效的年月"),
        ("2026-04", "不能晚于当前年月"),
        ("今年九月", "格式"),
        ("", "请填写起始年月"),
    ]:
        with pytest.raises(InvalidArgument) as info:
            parse_month(bad, field="m", label="起始年月", today=TODAY)
        assert message in info.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("是", True),
        ("否", False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
    ],
)
def test_yes_no(raw: object, expected: bool) -> None:
    assert parse_bool(raw, field="b", label="是否建档立卡贫困家庭") is expected


@pytest.mark.parametrize(
    ("raw", "message"), [(None, "请选择是否建档立卡贫困家庭"), ("", "请选择是否建档立卡贫困家庭"), ("也许", "只能选择")]
)
def test_yes_no_errors(raw: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_bool(raw, field="b", label="是否建档立卡贫困家庭")
    assert message in info.value.message


def test_sex() -> None:
    assert parse_sex("男") is Sex.MALE and parse_sex("2") is Sex.FEMALE
    for bad in ["", "M", "未知"]:
        with pytest.raises(InvalidArgument) as info:
            parse_sex(bad)
        assert "性别" in info.value.message
