"""Content of the home and guide pages (2.6): limits and the seed texts the pages had before."""

from __future__ import annotations

import re

from zsb.common.errors import InvalidArgument

PAGE_TITLES = {"process": "报名操作流程", "manual": "考生使用说明"}
TITLE_MAX = 100
BODY_MAX = 20_000
PAGE_MAX = 60_000
HOTLINES_MAX = 2_000
# Digits with the separators phone numbers are written with: 0351-1234567, 400 123 4567, 12345678转8.
_PHONE = re.compile(r"^[0-9][0-9 \-()转,，、]{4,38}$")

SEED_PAGES = {
    "process": "\n".join(
        [
            "考生使用报名点提供的考生号和初始密码登录，首次登录须修改密码。",
            "阅读报考须知、教育考试违规处理办法和考生承诺书。",
            "填写基本信息，并在信息确认页核对。",
            "身份认证：上传证件照、身份证人像面和国徽面。",
            "网上支付报名费。",
            "资料上传：需要报考资格审核的考生上传证明材料。",
            "表格下载：下载报名信息登记表、体检表、录取加分登记表和准考证。",
            "在规定时间内填报志愿，查询成绩与录取信息。",
        ]
    ),
    "manual": "《考生使用说明》由省招生考试管理中心发布，请在报名前仔细阅读。",
}


def page_key(value: str) -> str:
    if value not in PAGE_TITLES:
        raise InvalidArgument("页面不存在", reason="BAD_PAGE", field="key")
    return value


def check_text(value: str, field: str, label: str, limit: int, required: bool = True) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise InvalidArgument(f"请填写{label}", reason="REQUIRED", field=field)
    if len(text) > limit:
        raise InvalidArgument(f"{label}不能超过{limit}个字", reason="TOO_LONG", field=field)
    return text


def check_phone(value: str) -> str:
    phone = (value or "").strip()
    if not _PHONE.match(phone):
        raise InvalidArgument(f"电话号码不正确：{phone or '（空）'}", reason="BAD_PHONE", field="phone")
    return phone
