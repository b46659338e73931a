"""Reading an uploaded score list (CSV or Excel) into a header and lines of text cells.

The gateway passes the file as it was uploaded: the province's list has one row per candidate
(tens of thousands), beyond what the gateway's small-list reader takes, and the columns depend
on the subjects of the year, so the service reads the file itself.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from openpyxl import load_workbook

MAX_BYTES = 16 * 1024 * 1024
MAX_ROWS = 500_000


class ScoreFileError(Exception):
    """The file cannot be read as a list; the message is shown to staff."""


@dataclass(frozen=True)
class Table:
    header: list[str]
    lines: list[tuple[int, list[str]]]  # (line number in the file, cells), blank lines skipped


def read_table(data: bytes) -> Table:
    """Header and rows of an .xlsx (told by its ZIP signature) or a UTF-8 / GB18030 .csv."""
    if not data:
        raise ScoreFileError("文件为空")
    if len(data) > MAX_BYTES:
        raise ScoreFileError(f"文件过大（不超过{MAX_BYTES // 1024 // 1024}MB），请分批以“更正”方式导入")
    raw = _xlsx(data) if data[:4] == b"PK\x03\x04" else _csv(data)
    header: list[str] | None = None
    lines: list[tuple[int, list[str]]] = []
    for number, row in raw:
        cells = [_cell(c) for c in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        lines.append((number, cells))
        if len(lines) > MAX_ROWS:
            raise ScoreFileError(f"一次最多导入{MAX_ROWS}行")
    if header is None:
        raise ScoreFileError("文件中没有数据")
    while header and not header[-1]:
        header.pop()
    return Table(header, lines)


def _cell(value: object) -> str:
    if value is None:
        return ""
    # Excel stores whole numbers as floats: 236.0 -> '236', 21145101130001.0 -> '21145101130001'.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx(data: bytes) -> list[tuple[int, tuple[object, ...]]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ScoreFileError("无法读取Excel文件，请另存为.xlsx后重试") from exc
    try:
        sheet = wb.worksheets[0]
        return [(i, row) for i, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()


def _csv(data: bytes) -> list[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ScoreFileError("文件编码无法识别，请使用UTF-8或Excel格式")
    if "\x00" in text:
        raise ScoreFileError("文件格式不正确，请上传.xlsx或.csv文件")
    reader = csv.reader(io.StringIO(text))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ScoreFileError(f"CSV格式有误（第{reader.line_num}行）：{exc}") from exc
