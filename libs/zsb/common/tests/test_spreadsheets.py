"""Tests of the .xlsx reader against hostile and broken workbooks: one clean refusal, bounded memory."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

import pytest
from openpyxl import Workbook

from zsb.common.errors import InvalidArgument
from zsb.common.spreadsheets import MB, UNREADABLE, check_unpacked_size, is_xlsx, read_xlsx_rows

SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)


def workbook(*rows: list[object]) -> bytes:
    wb = Workbook()
    for row in rows or (["考生号", "姓名"], ["21145101130001", "张三"]):
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rewrite(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The workbook with each part passed through `change` (None drops the part)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in source.namelist():
            part = change(name, source.read(name))
            if part is not None:
                archive.writestr(name, part)
    return out.getvalue()


def huge_cell(megabytes: int) -> bytes:
    """A valid workbook whose sheet has one cell of `megabytes` MB of text: a ~1000:1 zip bomb."""
    cell = b'<row r="3"><c r="A3" t="inlineStr"><is><t>' + b"A" * (megabytes * MB) + b"</t></is></c></row>"
    grown = {b"</sheetData>": cell + b"</sheetData>", b'<dimension ref="A1:B2" />': b'<dimension ref="A1:B3" />'}

    def change(name: str, part: bytes) -> bytes:
        for old, new in grown.items():
            part = part.replace(old, new) if name == SHEET else part
        return part

    return rewrite(workbook(), change)


def read(data: bytes, max_unpacked: int = 32 * MB, max_rows: int = 100) -> list[tuple[object, ...]]:
    return read_xlsx_rows(data, max_unpacked=max_unpacked, max_rows=max_rows)


def test_a_workbook_is_read() -> None:
    data = workbook()
    assert is_xlsx(data) and not is_xlsx(b"\xef\xbb\xbf\xe8\x80\x83,a\n")
    assert read(data) == [("考生号", "姓名"), ("21145101130001", "张三")]


def test_a_zip_bomb_is_refused_before_anything_is_unpacked() -> None:
    bomb = huge_cell(200)
    assert len(bomb) < 1 * MB  # 200 MB of XML in a small upload
    with pytest.raises(InvalidArgument) as err:
        read(bomb)
    assert err.value.reason == "FILE_UNPACKS_TOO_LARGE" and "32MB" in err.value.message


def test_a_big_cell_under_the_limit_is_read() -> None:
    rows = read(huge_cell(2), max_unpacked=8 * MB)
    assert len(rows[-1][0]) == 2 * MB


def test_a_member_that_unpacks_beyond_its_declared_size_fails_its_crc() -> None:
    """The check trusts the declared sizes: zipfile stops at the declared size and the CRC fails."""
    bomb = huge_cell(50)
    member = zipfile.ZipFile(io.BytesIO(bomb)).getinfo(SHEET)
    lying = bytearray(bomb)
    small = struct.pack("<I", 4096)
    lying[member.header_offset + 22 : member.header_offset + 26] = small  # the local header's size
    start = bomb.find(b"PK\x01\x02")  # the central directory: its entry for the sheet
    while start >= 0:
        name_length = struct.unpack("<H", bomb[start + 28 : start + 30])[0]
        if bomb[start + 46 : start + 46 + name_length] == SHEET.encode():
            lying[start + 24 : start + 28] = small
        start = bomb.find(b"PK\x01\x02", start + 4)
    check_unpacked_size(bytes(lying), 8 * MB)  # it declares little...
    with pytest.raises(InvalidArgument) as err:
        read(bytes(lying), max_unpacked=8 * MB)  # ...and cannot deliver more
    assert err.value.message == UNREADABLE


def test_too_many_members_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(2001):
            archive.writestr(f"x/{i}.xml", b"")
    with pytest.raises(InvalidArgument) as err:
        read(out.getvalue())
    assert err.value.reason == "FILE_UNPACKS_TOO_LARGE"


def _cut(n: str, d: bytes, part: str) -> bytes:
    return d[: len(d) // 2] if n == part else d


BROKEN: dict[str, Callable[[bytes], bytes]] = {
    "sheet XML cut off": lambda d: rewrite(d, lambda n, p: _cut(n, p, SHEET)),
    "no sheet part": lambda d: rewrite(d, lambda n, p: None if n == SHEET else p),
    "no workbook part": lambda d: rewrite(d, lambda n, p: None if n == "xl/workbook.xml" else p),
    "content types garbage": lambda d: rewrite(d, lambda n, p: b"garbage" if n == "[Content_Types].xml" else p),
    "styles cut off": lambda d: rewrite(d, lambda n, p: b"<x" if n == "xl/styles.xml" else p),
    "entities in the sheet": lambda d: rewrite(
        d, lambda n, p: LAUGHS + p.split(b"?>", 1)[-1].replace(b"<v>", b"<v>&lol3;", 1) if n == SHEET else p
    ),
    "entities in the workbook": lambda d: rewrite(
        d, lambda n, p: LAUGHS + p.split(b"?>", 1)[-1] if n == "xl/workbook.xml" else p
    ),
    "archive cut off": lambda d: d[: len(d) // 2],
    "only a signature": lambda d: b"PK\x03\x04" + b"\0" * 100,
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_and_hostile_workbooks_are_one_clean_refusal(name: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        read(BROKEN[name](workbook()))
    assert err.value.message == UNREADABLE and err.value.field == "file"


def test_the_row_limit_counts_filled_rows_and_keeps_blank_ones() -> None:
    data = workbook(["h"], ["1"], [None], ["2"], ["3"], ["4"])
    assert read(data, max_rows=3) == [("h",), ("1",), (None,), ("2",)]
    assert len(read(data, max_rows=100)) == 6
