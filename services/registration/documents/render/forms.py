"""报名信息登记表, 体检表 and 录取加分登记表 (manual 2.8.7.2, 2.8.7.3): bordered tables on A4."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf.enums import XPos, YPos

from services.registration.documents.domain import texts
from services.registration.documents.render.base import (
    CONTENT_WIDTH,
    FAMILY,
    MARGIN,
    PHOTO_H,
    PHOTO_W,
    Cell,
    FontBook,
    Sheet,
)
from services.registration.documents.render.models import (
    BonusFormView,
    MedicalFormView,
    RegistrationFormView,
)
from services.registration.documents.render.models import (
    texts as view_texts,
)

NONE = "—"


def _v(value: str) -> str:
    return value or NONE


def _photo_block(sheet: Sheet, rows: Sequence[Sequence[Cell]], photo: bytes | None) -> None:
    """Rows beside the photo: they share its height, the photo box spans them on the right."""
    top = sheet.get_y()
    box_w = CONTENT_WIDTH - sum(c.width for c in rows[0])
    heights = [sheet.row_height(r, 8.5, 4.8) for r in rows]
    extra = max(0.0, PHOTO_H + 4 - sum(heights)) / len(rows)
    for row, height in zip(rows, heights, strict=True):
        sheet.grid_row(row, height=height + extra)
    bottom = sheet.get_y()
    sheet.rect(MARGIN + CONTENT_WIDTH - box_w, top, box_w, bottom - top)
    sheet.photo(
        MARGIN + CONTENT_WIDTH - box_w + (box_w - PHOTO_W) / 2,
        top + (bottom - top - PHOTO_H) / 2,
        PHOTO_W,
        PHOTO_H,
        photo,
    )
    sheet.set_xy(MARGIN, bottom)


def _signature(sheet: Sheet, who: str = "考生签名") -> None:
    sheet.ln(5)
    sheet.set_font(FAMILY, size=10.5)
    sheet.cell(CONTENT_WIDTH / 2, 7, f"{who}：____________________")
    sheet.cell(CONTENT_WIDTH / 2, 7, "日期：________年____月____日", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


# --- 报名信息登记表 ----------------------------------------------------------------------------


def render_registration_form(fonts: FontBook, view: RegistrationFormView) -> bytes:
    p, s = view.person, view.progress
    sheet = fonts.document(view_texts(view))
    sheet.add_page()
    sheet.doc_title(view.exam_title)
    sheet.doc_title("报名信息登记表", size=16, after=1)
    sheet.line_of(f"考生号：{p.candidate_no}", f"报名点：{p.point}")
    L, V = (lambda t, w: Cell(t, w, label=True)), (lambda t, w: Cell(_v(t), w))
    _photo_block(
        sheet,
        [
            [L("姓名", 20), V(p.name, 33), L("性别", 20), V(p.sex, 24), L("民族", 20), V(p.ethnicity, 33)],
            [
                L("出生日期", 20),
                V(p.birth_date, 33),
                L("政治面貌", 20),
                V(p.political_status, 24),
                L("考生类别", 20),
                V(p.candidate_category, 33),
            ],
            [L("身份证号", 20), V(p.id_number, 77), L("手机号", 20), V(p.phone, 33)],
            [L("考生类型", 20), V(p.candidate_type, 33), L("报考专业类别", 20), V(p.major_category, 77)],
            [L("所在市", 20), V(p.city, 33), L("报名点", 20), V(p.point, 77)],
        ],
        view.photo,
    )
    for row in (
        [L("毕业院校", 25), V(p.graduated_school, 95), L("测试主项", 25), V(p.music_test_subject, 35)],
        [L("专科专业代码", 25), V(p.college_major_code, 35), L("专科专业名称", 25), V(p.college_major_name, 95)],
        [
            L("是否建档立卡贫困家庭", 25),
            V(p.poverty_registered, 35),
            L("是否申请奖励加分", 25),
            V(p.claims_bonus_points, 95),
        ],
        [L("获奖情况", 25), V(p.awards, 155)],
        [L("户籍所在地", 25), V(p.household, 155)],
        [
            L("收件人", 25),
            V(p.recipient, 35),
            L("收件人手机号", 25),
            V(p.recipient_phone, 35),
            L("邮政编码", 25),
            V(p.postal_code, 35),
        ],
        [L("通知书邮寄地址", 25), V(p.mailing_address, 155)],
    ):
        sheet.grid_row(row)

    sheet.heading("个人简历")
    sheet.grid_row([L("起始年月", 25), L("终止年月", 25), L("学习或工作单位", 90), L("职务或身份", 40)], min_height=7.5)
    for line in p.resume or ():
        sheet.grid_row(
            [
                Cell(line.start, 25, align="C"),
                Cell(line.end or "至今", 25, align="C"),
                Cell(line.unit, 90),
                Cell(line.role, 40, align="C"),
            ],
            min_height=7.5,
        )
    if not p.resume:
        sheet.grid_row([Cell(NONE, 180, align="C")], min_height=7.5)

    sheet.heading("报名状态")
    sheet.grid_row([L("信息确认", 25), V(s.confirmed_at, 65), L("身份认证", 25), V(s.identity, 65)])
    sheet.grid_row([L("网上支付", 25), V(s.payment, 65), L("资格审核", 25), V(s.qualification, 65)])
    sheet.ln(3)
    sheet.paragraph(texts.REGISTRATION_DECLARATION, size=10)
    _signature(sheet)
    return bytes(sheet.output())


# --- 体检表 ------------------------------------------------------------------------------------


def render_medical_form(fonts: FontBook, view: MedicalFormView) -> bytes:
    p = view.person
    sheet = fonts.document([*view_texts(view), *_medical_texts()])
    sheet.add_page()
    sheet.doc_title(view.exam_title)
    sheet.doc_title("考生体检表", size=16, after=1)
    sheet.line_of(f"考生号：{p.candidate_no}", f"报名点：{p.point}")
    L, V = (lambda t, w: Cell(t, w, label=True)), (lambda t, w: Cell(_v(t), w))
    _photo_block(
        sheet,
        [
            [L("姓名", 20), V(p.name, 33), L("性别", 20), V(p.sex, 24), L("民族", 20), V(p.ethnicity, 33)],
            [L("出生日期", 20), V(p.birth_date, 33), L("报考专业类别", 20), V(p.major_category, 77)],
            [L("身份证号", 20), V(p.id_number, 77), L("手机号", 20), V(p.phone, 33)],
            [L("毕业院校", 20), V(p.graduated_school, 130)],
        ],
        view.photo,
    )
    for section, items in texts.MEDICAL_SECTIONS:
        _medical_section(sheet, section, items)
    conclusion_top = sheet.get_y()
    sheet.grid_row([L("体检结论", 24), Cell("", 156)], height=18)
    sheet.set_font(FAMILY, size=9.5)
    sheet.set_xy(MARGIN + 24, conclusion_top + 11)
    sheet.cell(154, 6, "主检医师签字：______________      体检医院（盖章）      ____年____月____日", align="R")
    sheet.set_xy(MARGIN, conclusion_top + 18)
    sheet.heading("说明", size=10.5)
    sheet.numbered(texts.MEDICAL_NOTES, size=9)
    return bytes(sheet.output())


def _medical_texts() -> list[str]:
    out = [section for section, _ in texts.MEDICAL_SECTIONS]
    out += [item.lstrip("*") for _, items in texts.MEDICAL_SECTIONS for item in items]
    return [*out, *texts.MEDICAL_NOTES, "医师签字", "体检结论", "主检医师签字", "体检医院（盖章）"]


def _medical_section(sheet: Sheet, section: str, items: Sequence[str]) -> None:
    """A section: its name on the left, items two per row, the doctor's signature on the right."""
    section_w, item_w, value_w = 24.0, 30.0, 33.0
    sign_w = CONTENT_WIDTH - section_w - 2 * (item_w + value_w)
    pairs = [items[i : i + 2] for i in range(0, len(items), 2)]
    row_h = 8.0
    total = row_h * len(pairs)
    if sheet.get_y() + total > sheet.page_break_trigger:
        sheet.add_page()
    top = sheet.get_y()
    sheet.grid_row([Cell(section, section_w, label=True, size=9.5)], height=total)
    for i, pair in enumerate(pairs):
        sheet.set_xy(MARGIN + section_w, top + i * row_h)
        if len(pair) == 1 and pair[0].startswith("*"):  # one free-text box for the whole row
            hint = Cell(pair[0][1:], 2 * (item_w + value_w), size=8)
            sheet.grid_row([hint], x=MARGIN + section_w, height=row_h)
            continue
        cells = []
        for item in pair:
            cells += [Cell(item, item_w, label=True, size=8.5), Cell("", value_w)]
        if len(pair) == 1:
            cells += [Cell("", item_w + value_w)]
        sheet.grid_row(cells, x=MARGIN + section_w, height=row_h)
    sign_x = MARGIN + section_w + 2 * (item_w + value_w)
    sheet.rect(sign_x, top, sign_w, total)
    sheet.set_font(FAMILY, size=8.5)
    sheet.set_xy(sign_x, top + 1)
    sheet.cell(sign_w, 4.5, "医师签字", align="C")
    sheet.set_xy(MARGIN, top + total)


# --- 录取加分登记表 ------------------------------------------------------------------------------


def render_bonus_form(fonts: FontBook, view: BonusFormView) -> bytes:
    p = view.person
    labels = ["学校意见", "省招生考试管理中心意见", "（盖章）", "负责人签字", *texts.BONUS_RULES]
    sheet = fonts.document([*view_texts(view), *labels])
    sheet.add_page()
    sheet.doc_title(view.exam_title)
    sheet.doc_title("录取加分登记表", size=16, after=1)
    sheet.line_of(f"考生号：{p.candidate_no}", f"报名点：{p.point}")
    L, V = (lambda t, w: Cell(t, w, label=True)), (lambda t, w: Cell(_v(t), w))
    _photo_block(
        sheet,
        [
            [L("姓名", 20), V(p.name, 33), L("性别", 20), V(p.sex, 24), L("民族", 20), V(p.ethnicity, 33)],
            [L("身份证号", 20), V(p.id_number, 77), L("手机号", 20), V(p.phone, 33)],
            [L("毕业院校", 20), V(p.graduated_school, 77), L("考生类型", 20), V(p.candidate_type, 33)],
            [L("专科专业", 20), V(p.college_major_name, 77), L("报考专业类别", 20), V(p.major_category, 33)],
        ],
        view.photo,
    )
    _box(sheet, "获奖情况", 52, p.awards, footer="考生签名：______________    ____年____月____日")
    _box(sheet, "学校意见", 40, "", footer="负责人签字：____________    （盖章）    ____年____月____日")
    _box(sheet, "省招生考试管理中心意见", 40, "", footer="负责人签字：____________    （盖章）    ____年____月____日")
    sheet.heading("说明", size=10.5)
    sheet.numbered(texts.BONUS_RULES, size=9)
    return bytes(sheet.output())


def _box(sheet: Sheet, label: str, height: float, body: str, footer: str) -> None:
    """A labelled box: text at the top, a signature line at the bottom right."""
    label_w = 25.0
    sheet.set_font(FAMILY, size=10)
    needed = sheet.row_height([Cell(body, CONTENT_WIDTH - label_w)], 0, 5) + 10 if body else 0
    h = max(height, needed)
    if sheet.get_y() + h > sheet.page_break_trigger:
        sheet.add_page()
    top = sheet.get_y()
    sheet.grid_row([Cell(label, label_w, label=True)], height=h)
    sheet.rect(MARGIN + label_w, top, CONTENT_WIDTH - label_w, h)
    if body:
        sheet.set_font(FAMILY, size=10)
        sheet.set_xy(MARGIN + label_w, top + 1.5)
        sheet.multi_cell(CONTENT_WIDTH - label_w, 5, body, padding=(0, 1.2))
    sheet.set_font(FAMILY, size=9.5)
    sheet.set_xy(MARGIN + label_w, top + h - 8)
    sheet.cell(CONTENT_WIDTH - label_w - 3, 6, footer, align="R")
    sheet.set_xy(MARGIN, top + h)
