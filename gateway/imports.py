"""Reading uploaded import lists (CSV or Excel) into rows of named columns."""

from __future__ import annotations

import csv
import io

from zsb.common.errors import InvalidArgument
from zsb.common.spreadsheets import is_xlsx, read_xlsx_rows

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
# What the XML of 5000 rows can reasonably unpack to; beyond it the file is a zip bomb.
MAX_UNPACKED = 32 * 1024 * 1024


class ImportFileError(Exception):
    """The file cannot be read as a list; the message is shown to staff."""


def read_table(data: bytes, columns: dict[str, str]) -> list[dict[str, str]]:
    """Rows of an uploaded .xlsx or .csv, keyed by our field names.

    `columns` maps the Chinese header a file carries (e.g. '考生号') to the field name. The
    format is told from the content: an .xlsx is a ZIP archive, anything else must be UTF-8
    (or GBK, as Excel in China saves CSV) text.
    """
    if not data:
        raise ImportFileError("文件为空")
    if len(data) > MAX_BYTES:
        raise ImportFileError("文件过大（不超过5MB）")
    table = _xlsx(data) if is_xlsx(data) else _csv(data)
    if not table:
        raise ImportFileError("文件中没有数据")
    header = [str(h or "").strip() for h in table[0]]
    missing = [h for h in columns if h not in header]
    if missing:
        raise ImportFileError(f"缺少列：{'、'.join(missing)}")
    index = {columns[h]: header.index(h) for h in columns}
    rows = []
    for raw in table[1:]:
        cells = ["" if c is None else str(c).strip() for c in raw]
        if not any(cells):
            continue
        rows.append({name: cells[i] if i < len(cells) else "" for name, i in index.items()})
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"一次最多导入{MAX_ROWS}行")
    return rows


def _xlsx(data: bytes) -> list[list[object]]:
    try:
        rows = read_xlsx_rows(data, max_unpacked=MAX_UNPACKED, max_rows=MAX_ROWS + 2)
    except InvalidArgument as exc:
        raise ImportFileError(exc.message) from exc
    # Excel turns long digit strings into numbers: 21145101130001.0 -> '21145101130001'.
    return [[int(c) if isinstance(c, float) and c.is_integer() else c for c in r] for r in rows]


def _csv(data: bytes) -> list[list[object]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("文件编码无法识别，请使用UTF-8或Excel格式")
    if "\x00" in text:
        raise ImportFileError("文件格式不正确，请上传.xlsx或.csv文件")
    reader = csv.reader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as exc:  # e.g. a cell beyond the csv module's field size limit
        raise ImportFileError(f"CSV格式有误（第{reader.line_num}行），请检查后重试") from exc
