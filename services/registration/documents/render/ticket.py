"""考生准考证: the candidate's seat, the timetable, the exam rules and the QR code to verify it."""

from __future__ import annotations

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
)
from services.registration.documents.render.models import TicketView
from services.registration.documents.render.models import texts as view_texts

LABEL_W = 27.0
INFO_W = 128.0  # the table; the photo and the QR code share the column on its right
QR_SIZE = 30.0


def render_ticket(fonts: FontBook, view: TicketView) -> bytes:
    fixed = [
        "准考证",
        "考生须知",
        "考试科目及时间",
        "扫码验证",
        *texts.EXAM_RULES,
        texts.TICKET_VERIFY_HINT,
        texts.ISSUER,
    ]
    sheet = fonts.document([*view_texts(view), *fixed])
    sheet.add_page()
    sheet.doc_title(view.exam_title, size=16, after=0)
    sheet.doc_title("准　考　证", size=22, after=3)

    L = lambda t: Cell(t, LABEL_W, label=True)  # noqa: E731
    V = lambda t, w=INFO_W - LABEL_W: Cell(t, w, size=11)  # noqa: E731
    half = (INFO_W - 2 * LABEL_W) / 2
    rows = [
        [L("考生号"), V(view.candidate_no)],
        [L("姓名"), V(view.name)],
        [L("身份证号"), V(view.id_number)],
        [L("报考专业类别"), V(view.major_category)],
        [L("考点名称"), V(view.site_name)],
        [L("考点地址"), V(view.site_address)],
        [L("考场号"), Cell(f"第{view.room_no}考场", half, size=13), L("座位号"), Cell(view.seat_no, half, size=13)],
        [L("考场位置"), V(view.room_location or "—")],
    ]
    top = sheet.get_y()
    heights = [sheet.row_height(r, 9, 5) for r in rows]
    side_h = PHOTO_H + QR_SIZE + 12
    extra = max(0.0, side_h - sum(heights)) / len(rows)
    for row, h in zip(rows, heights, strict=True):
        sheet.grid_row(row, height=h + extra)
    bottom = sheet.get_y()
    side_x, side_w = MARGIN + INFO_W, CONTENT_WIDTH - INFO_W
    sheet.rect(side_x, top, side_w, bottom - top)
    sheet.photo(side_x + (side_w - PHOTO_W) / 2, top + 3, PHOTO_W, PHOTO_H, view.photo)
    qr_y = bottom - QR_SIZE - 6
    sheet.qr(side_x + (side_w - QR_SIZE) / 2, qr_y, QR_SIZE, view.verify_url)
    sheet.set_font(FAMILY, size=8)
    sheet.set_xy(side_x, bottom - 6)
    sheet.cell(side_w, 4, "扫码验证", align="C")
    sheet.set_xy(MARGIN, bottom)

    sheet.heading("考试科目及时间")
    W = (58.0, 42.0, 80.0)
    sheet.grid_row(
        [Cell("日期", W[0], label=True), Cell("时间", W[1], label=True), Cell("科目", W[2], label=True)], min_height=7.5
    )
    for line in view.sessions:
        sheet.grid_row(
            [Cell(line.day, W[0], align="C"), Cell(line.time, W[1], align="C"), Cell(line.subject, W[2])],
            min_height=7.5,
        )
    if not view.sessions:
        sheet.grid_row([Cell("考试时间以省招生考试管理中心公布为准", CONTENT_WIDTH, align="C")], min_height=7.5)

    sheet.heading("考生须知")
    sheet.numbered(texts.EXAM_RULES, size=9.5)
    sheet.ln(2)
    sheet.set_font(FAMILY, size=8.5)
    sheet.multi_cell(
        CONTENT_WIDTH, 4.5, f"{texts.TICKET_VERIFY_HINT}验证码：{view.token}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    sheet.set_font(FAMILY, size=10.5)
    sheet.cell(CONTENT_WIDTH, 8, texts.ISSUER, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(sheet.output())
