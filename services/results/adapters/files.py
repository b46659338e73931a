"""Reading an uploaded score list (CSV or Excel) into a header and lines of text cells.

The gateway passes the file as it was uploaded: the province's list has one row per candidate
(tens of thousands), beyond what the gateway's small-list reader takes, and the columns depend
on the subjects of the year, so the service reads the file itself.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from zsb.common.errors import InvalidArgument
from zsb.common.spreadsheets import is_xlsx, read_xlsx_rows

MAX_BYTES = 16 * 1024 * 1024
MAX_ROWS = 500_000
# The XML of MAX_ROWS score lines fits in this; beyond it the file is a zip bomb.
MAX_UNPACKED = 256 * 1024 * 1024


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
    raw = _xlsx(data) if is_xlsx(data) else _csv(data)
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
        # +2: the header line, and one more line to tell that the file has too many.
        rows = read_xlsx_rows(data, max_unpacked=MAX_UNPACKED, max_rows=MAX_ROWS + 2)
    except InvalidArgument as exc:
        raise ScoreFileError(exc.message) from exc
    return list(enumerate(rows, start=1))


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
