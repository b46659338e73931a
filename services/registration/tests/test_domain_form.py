"""Unit tests of the 填写基本信息 form: every field, every error at once, reference data as input."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registration.domain import (
    FIELD_LABELS,
    SEED,
    BasicInfo,
    DocumentKind,
    FormErrors,
    ReferenceData,
    check_basic_info,
    parse_basic_info,
)
from services.registration.domain.reference import SEED_DICT
from zsb.common.validators import Sex, id_check_char

TODAY = date(2026, 3, 1)


def make_id(region: str, birth: str, seq: str) -> str:
    return region + birth + seq + id_check_char(region + birth + seq)


ID_MALE = make_id("140105", "20030915", "131")  # 太原小店, born 2003-09-15, male


def valid_raw(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "张晓明",
        "sex": "男",
        "ethnicity": "01",
        "political_status": "03",
        "birth_date": "2003-09-15",
        "id_number": ID_MALE,
        "phone": "13812345678",
        "graduated_school": "山西职业技术学院",
        "college_major_code": "530302",
        "college_major_name": "大数据与会计",
        "candidate_category": "1",
        "candidate_type": "2",
        "poverty_registered": "否",
        "claims_bonus_points": "否",
        "awards": "",
        "city_code": "01",
        "point_code": "0102",
        "major_category": "01",
        "music_test_subject": "",
        "household_province": "14",
        "household_city": "太原市",
        "household_district": "小店区",
        "recipient": "张晓明",
        "recipient_phone": "13812345678",
        "postal_code": "030006",
        "mailing_address": "山西省太原市小店区坞城路92号",
        "resume": [
            {"start": "2018-09", "end": "2022-06", "unit": "太原市第五中学", "role": "学生"},
            {"start": "2022-09", "end": "至今", "unit": "山西职业技术学院", "role": "学生"},
        ],
    }
    raw.update(overrides)
    return raw


def errors_of(raw: dict[str, Any], reference: ReferenceData = SEED) -> dict[str, str]:
    with pytest.raises(FormErrors) as info:
        parse_basic_info(raw, reference, TODAY)
    assert info.value.errors == check_basic_info(raw, reference, TODAY)
    assert info.value.field in info.value.errors
    return info.value.errors


def test_a_complete_form_is_accepted_and_normalized() -> None:
    info = parse_basic_info(valid_raw(phone="138 1234 5678", id_number=ID_MALE.lower()), SEED, TODAY)
    assert info.name == "张晓明"
    assert info.sex is Sex.MALE
    assert info.birth_date == date(2003, 9, 15)
    assert info.id_number == ID_MALE
    assert info.phone == "13812345678"
    assert info.poverty_registered is False and info.claims_bonus_points is False
    assert info.music_test_subject == ""
    assert len(info.resume) == 2
    assert info.resume[1].end is None  # 至今
    assert info.resume[0].start == date(2018, 9, 1)
    assert info.required_documents(SEED) == frozenset()
    assert check_basic_info(valid_raw(), SEED, TODAY) == {}


def test_round_trip_through_to_dict() -> None:
    info = parse_basic_info(valid_raw(), SEED, TODAY)
    assert parse_basic_info(info.to_dict(), SEED, TODAY) == info


def test_a_blank_form_reports_every_required_field_at_once() -> None:
    errors = errors_of({})
    expected = set(FIELD_LABELS) - {"awards", "music_test_subject"}
    assert set(errors) == expected
    for field, message in errors.items():
        assert FIELD_LABELS[field] in message, (field, message)  # each message names its field


def test_several_wrong_fields_are_reported_together() -> None:
    errors = errors_of(
        valid_raw(
            id_number=ID_MALE[:17] + ("0" if ID_MALE[17] != "0" else "1"),
            phone="12812345678",
            postal_code="0300",
            name="Tom",
            ethnicity="57",
        )
    )
    assert set(errors) == {"id_number", "phone", "postal_code", "name", "ethnicity"}
    assert "校验位" in errors["id_number"]
    assert errors["ethnicity"] == "民族不在可选范围内，请重新选择"


def test_sex_and_birth_date_must_agree_with_the_id_number() -> None:
    errors = errors_of(valid_raw(sex="女", birth_date="2003-09-16"))
    assert errors == {
        "sex": "性别与身份证号不一致（身份证号显示为男）",
        "birth_date": "出生日期与身份证号不一致（身份证号显示为2003-09-15）",
    }
    female = make_id("140105", "20030915", "142")
    assert parse_basic_info(valid_raw(sex="女", id_number=female), SEED, TODAY).sex is Sex.FEMALE


def test_too_young_per_the_id_number() -> None:
    young = make_id("140105", "20110101", "131")
    errors = errors_of(valid_raw(id_number=young, birth_date="2011-01-01"))
    assert set(errors) == {"id_number"} and "周岁" in errors["id_number"]


def test_point_must_belong_to_the_city() -> None:
    assert errors_of(valid_raw(city_code="02")) == {"point_code": "报名点不属于所选的所在市，请重新选择"}
    assert parse_basic_info(valid_raw(city_code="02", point_code="0201"), SEED, TODAY).point_code == "0201"
    assert errors_of(valid_raw(city_code="12")) == {"city_code": "所在市不在可选范围内，请重新选择"}


def test_major_category_must_belong_to_the_candidate_category() -> None:
    errors = errors_of(valid_raw(candidate_category="2"))  # 艺术类 with 财经类(01)
    assert errors == {"major_category": "报考专业(类别)与考生类别不符，请重新选择"}


def test_music_candidates_must_choose_a_test_subject() -> None:
    raw = valid_raw(candidate_category="2", major_category="21")
    assert errors_of(raw) == {"music_test_subject": "音乐类考生请选择测试主项"}
    assert errors_of({**raw, "music_test_subject": "9"}) == {"music_test_subject": "测试主项不在可选范围内，请重新选择"}
    info = parse_basic_info({**raw, "music_test_subject": "2"}, SEED, TODAY)
    assert info.music_test_subject == "2"


def test_a_test_subject_is_dropped_outside_music() -> None:
    info = parse_basic_info(valid_raw(candidate_category="2", major_category="22", music_test_subject="1"), SEED, TODAY)
    assert info.music_test_subject == ""


def test_bonus_points_need_the_awards() -> None:
    assert errors_of(valid_raw(claims_bonus_points="是")) == {"awards": "申请奖励加分请填写获奖情况"}
    info = parse_basic_info(valid_raw(claims_bonus_points=True, awards="2024年全国职业院校技能大赛一等奖"), SEED, TODAY)
    assert info.claims_bonus_points and info.required_documents(SEED) == {DocumentKind.BONUS_POINTS}


def test_booleans_must_be_chosen() -> None:
    errors = errors_of(valid_raw(poverty_registered=None, claims_bonus_points="maybe"))
    assert errors == {
        "poverty_registered": "请选择是否建档立卡贫困家庭",
        "claims_bonus_points": "是否申请奖励加分只能选择“是”或“否”",
    }


@pytest.mark.parametrize("code", ["53030", "5303021", "53O302", "530302X", "", "５３０３０２"])
def test_bad_major_codes(code: str) -> None:
    assert set(errors_of(valid_raw(college_major_code=code))) == {"college_major_code"}


def test_major_code_with_k_suffix() -> None:
    assert parse_basic_info(valid_raw(college_major_code="520201k"), SEED, TODAY).college_major_code == "520201K"


def test_household_province_is_a_mainland_province() -> None:
    assert errors_of(valid_raw(household_province="81")) == {
        "household_province": "户籍所在省不在可选范围内，请重新选择"
    }
    assert parse_basic_info(valid_raw(household_province="41"), SEED, TODAY).household_province == "41"


def test_recipient_rules() -> None:
    errors = errors_of(valid_raw(recipient="", recipient_phone="1234", mailing_address="太原"))
    assert errors == {
        "recipient": "请填写收件人",
        "recipient_phone": "收件人手机号应为11位中国大陆手机号码",
        "mailing_address": "通知书邮寄地址至少5个字",
    }


def test_free_text_fields_reject_control_characters_and_long_text() -> None:
    errors = errors_of(
        valid_raw(graduated_school="山西\u202e学院", mailing_address="山" * 101, awards="一\x07", household_city="\x00")
    )
    assert errors == {
        "graduated_school": "毕业院校包含不允许的控制字符",
        "mailing_address": "通知书邮寄地址不能超过100个字",
        "awards": "获奖情况包含不允许的控制字符",
        "household_city": "户籍所在市包含不允许的控制字符",
    }


def test_wrong_value_shapes_are_field_errors_not_crashes() -> None:
    errors = errors_of(valid_raw(name=["张三"], phone={"a": 1}, resume="学生"))
    assert errors == {"name": "姓名格式不正确", "phone": "手机号格式不正确", "resume": "个人简历格式不正确"}
    assert parse_basic_info(valid_raw(postal_code=100000), SEED, TODAY).postal_code == "100000"  # numbers are text


# --- 个人简历 ------------------------------------------------------------------------------------------


def test_resume_needs_at_least_one_row() -> None:
    assert errors_of(valid_raw(resume=[])) == {"resume": "个人简历至少填写一行"}
    assert errors_of(valid_raw(resume=None)) == {"resume": "个人简历至少填写一行"}


def test_resume_row_errors_name_the_row_and_cell() -> None:
    rows = [
        {"start": "2022-06", "end": "2018-09", "unit": "太原市第五中学", "role": "学生"},
        {"start": "2026-04", "end": "", "unit": "", "role": "学生"},
        {"start": "2001-01", "end": "2002-01", "unit": "幼儿园", "role": "学生"},  # before birth
        {"start": "2019-13", "end": "2027-01", "unit": "某单位", "role": "\x1b"},
        "not a row",
    ]
    errors = errors_of(valid_raw(resume=rows))
    assert errors == {
        "resume.0.end": "个人简历第1行的终止年月不能早于起始年月",
        "resume.1.start": "个人简历第2行的起始年月不能晚于当前年月",
        "resume.1.unit": "请填写个人简历第2行的学习或工作单位",
        "resume.2.start": "个人简历第3行的起始年月不能早于出生日期",
        "resume.3.start": "个人简历第4行的起始年月不是有效的年月",
        "resume.3.end": "个人简历第4行的终止年月不能晚于当前年月",
        "resume.3.role": "个人简历第4行的职务或身份包含不允许的控制字符",
        "resume.4": "个人简历第5行格式不正确",
    }


def test_resume_row_limit() -> None:
    row = {"start": "2018-09", "end": "2022-06", "unit": "太原市第五中学", "role": "学生"}
    assert errors_of(valid_raw(resume=[row] * 21)) == {"resume": "个人简历不能超过20行"}
    assert len(parse_basic_info(valid_raw(resume=[row] * 20), SEED, TODAY).resume) == 20


# --- reference data is input -----------------------------------------------------------------------


def test_seed_reference_data() -> None:
    assert len(SEED.ethnicities) == 56
    assert SEED.ethnicities.get("01").name == "汉族" and SEED.ethnicities.get("56").name == "基诺族"
    assert [(c.code, c.name) for c in SEED.cities] == [
        ("01", "太原市"),
        ("02", "大同市"),
        ("03", "阳泉市"),
        ("04", "长治市"),
        ("05", "晋城市"),
        ("06", "朔州市"),
        ("07", "晋中市"),
        ("08", "运城市"),
        ("09", "忻州市"),
        ("10", "临汾市"),
        ("11", "吕梁市"),
    ]
    assert SEED.major_category("01").label == "财经类(01)"
    assert SEED.political_statuses.get("13").name == "群众"
    assert {t.name for t in SEED.candidate_types} >= {"农村应届", "城镇应届", "退役士兵", "退役复学人员"}
    assert ReferenceData.from_dict(SEED.to_dict()) == SEED


def test_the_province_changes_the_lists_without_code() -> None:
    data = {**SEED_DICT, "points": [*SEED_DICT["points"], {"code": "0150", "name": "新报名点", "city_code": "01"}]}
    data["major_categories"] = [
        {**c, "needs_test_subject": False} if c["code"] == "21" else c for c in SEED_DICT["major_categories"]
    ]
    custom = ReferenceData.from_dict(data)
    assert parse_basic_info(valid_raw(point_code="0150"), custom, TODAY).point_code == "0150"
    assert set(errors_of(valid_raw(point_code="0150"))) == {"point_code"}  # unknown to the seed
    music = valid_raw(candidate_category="2", major_category="21")
    assert parse_basic_info(music, custom, TODAY).music_test_subject == ""
    young = make_id("140105", "20110101", "131")
    ages = ReferenceData.from_dict({**SEED_DICT, "min_age": 14})
    assert parse_basic_info(valid_raw(id_number=young, birth_date="2011-01-01"), ages, TODAY).id_number == young


@pytest.mark.parametrize(
    "change",
    [
        {"points": [{"code": "9901", "name": "x", "city_code": "99"}]},  # unknown city
        {"points": [{"code": "0201", "name": "x", "city_code": "01"}]},  # code not under its city
        {"major_categories": [{"code": "01", "name": "x", "candidate_category": "9"}]},
        {"cities": [{"code": "01", "name": "a"}, {"code": "01", "name": "b"}]},  # duplicate code
        {"candidate_types": [{"code": "1", "name": "x", "documents": ["passport"]}]},
        {"ethnicities": [{"code": "01"}]},  # no name
        {"min_age": 61},
    ],
)
def test_inconsistent_reference_data_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReferenceData.from_dict({**SEED_DICT, **change})


# --- properties ------------------------------------------------------------------------------------

field_values = st.one_of(
    st.none(), st.text(max_size=12), st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2)
)


@given(st.dictionaries(st.sampled_from(sorted(FIELD_LABELS)), field_values))
@settings(max_examples=200)
def test_property_any_input_gives_field_errors_not_crashes(raw: dict[str, Any]) -> None:
    errors = check_basic_info({**valid_raw(), **raw}, SEED, TODAY)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())


@given(
    st.sampled_from([o.code for o in SEED.ethnicities]),
    st.sampled_from([o.code for o in SEED.political_statuses]),
    st.sampled_from([o.code for o in SEED.candidate_types]),
    st.sampled_from([o.code for o in SEED.points]),
    st.booleans(),
    st.booleans(),
)
def test_property_valid_choices_round_trip(
    ethnicity: str, political: str, ctype: str, point: str, poverty: bool, bonus: bool
) -> None:
    raw = valid_raw(
        ethnicity=ethnicity,
        political_status=political,
        candidate_type=ctype,
        point_code=point,
        city_code=point[:2],
        poverty_registered=poverty,
        claims_bonus_points=bonus,
        awards="省级技能大赛二等奖" if bonus else "",
    )
    info = parse_basic_info(raw, SEED, TODAY)
    assert isinstance(info, BasicInfo)
    assert parse_basic_info(info.to_dict(), SEED, TODAY) == info
    assert replace(info, point_code=point) == info
