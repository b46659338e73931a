"""Reading the first sheet of an uploaded .xlsx safely (staff imports: accounts, plans, scores).

An .xlsx is a ZIP archive of XML parts, so a small upload can unpack to gigabytes (a zip bomb)
and openpyxl holds parts such as the shared strings, or one huge cell, in memory. The archive's
central directory is read first: the declared sizes of its members must stay under a limit. They
can be trusted as a bound because Python's zipfile never returns more bytes than a member declares
(a member that unpacks to more fails its CRC check instead). XML entities are refused by openpyxl
through defusedxml. Any other failure of a hostile or broken file is one clean `InvalidArgument`.
"""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

from zsb.common.errors import InvalidArgument

MB = 1024 * 1024
MAX_MEMBERS = 2000  # a workbook has a few dozen parts; thousands are an attack on the directory
XLSX_SIGNATURE = b"PK\x03\x04"
UNREADABLE = "无法读取Excel文件，请另存为.xlsx后重试"


def is_xlsx(data: bytes) -> bool:
    """An .xlsx (told by its ZIP signature), as opposed to a CSV text."""
    return data[:4] == XLSX_SIGNATURE


def check_unpacked_size(data: bytes, max_unpacked: int) -> None:
    """Refuse an archive whose members would unpack to more than `max_unpacked` bytes in all."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise InvalidArgument(UNREADABLE, reason="FILE_CORRUPT", field="file") from None
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > max_unpacked:
        raise InvalidArgument(
            f"Excel文件解压后过大（超过{max_unpacked // MB}MB），请删除多余的工作表、图片和格式后重试",
            reason="FILE_UNPACKS_TOO_LARGE",
            field="file",
        )


def read_xlsx_rows(data: bytes, *, max_unpacked: int, max_rows: int) -> list[tuple[object, ...]]:
    """The cell values of the first sheet's rows, blank ones included (line numbers stay true),
    up to the `max_rows`-th row that is not blank: a caller with a limit passes it plus one (plus
    its header line) to tell a file that has too many."""
    check_unpacked_size(data, max_unpacked)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many exception types on hostile files
        raise InvalidArgument(UNREADABLE, reason="FILE_CORRUPT", field="file") from None
    try:
        rows: list[tuple[object, ...]] = []
        filled = 0
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            rows.append(row)
            filled += any(c is not None and str(c).strip() for c in row)
            if filled >= max_rows:
                break
        return rows
    except Exception:  # noqa: BLE001 - the sheet's XML is parsed lazily, row by row
        raise InvalidArgument(UNREADABLE, reason="FILE_CORRUPT", field="file") from None
    finally:
        workbook.close()
