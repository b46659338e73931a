"""Checking an imported enrollment plan (招生计划): every row, every field, all problems at once.

One file carries institutions, majors and places: each row is one major of one institution in
one batch. An institution code must carry the same name on every row, a major (institution +
专业代号) the same name and 报考专业类别, and a (batch, institution, major) must appear once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from services.preferences.domain.batches import BATCHES, resolve_batch
from zsb.common.errors import InvalidArgument
from zsb.common.validators import parse_text

MAX_ROWS = 5000
MAX_PLACES = 99999
_INSTITUTION_CODE = re.compile(r"^[0-9A-Z]{2,10}$")
_MAJOR_CODE = re.compile(r"^[0-9A-Z]{1,10}$")
_CATEGORY = re.compile(r"^[0-9]{2}$")
_PLACES = re.compile(r"^[0-9]{1,6}$")
# The import file's columns, as the province's template names them, and our field names.
COLUMNS: dict[str, str] = {
    "批次": "batch",
    "院校代号": "institution_code",
    "院校名称": "institution_name",
    "专业代号": "major_code",
    "专业名称": "major_name",
    "报考专业类别": "major_category",
    "计划数": "places",
}
FIELD_LABELS = {v: k for k, v in COLUMNS.items()}


@dataclass(frozen=True)
class PlanLine:
    batch_code: str
    institution_code: str
    institution_name: str
    major_code: str
    major_name: str
    major_category: str
    places: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.batch_code, self.institution_code, self.major_code)


@dataclass(frozen=True)
class Problem:
    row: int  # 1-based data row; 0: the file as a whole
    field: str
    message: str


def _code(pattern: re.Pattern[str], message: str, field: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = (raw or "").strip().upper()
        if not pattern.match(value):
            raise InvalidArgument(message, field=field)
        return value

    return parse


_institution_code = _code(_INSTITUTION_CODE, "院校代号应为2-10位数字或大写字母", "institution_code")
_major_code = _code(_MAJOR_CODE, "专业代号应为1-10位数字或大写字母", "major_code")
_category = _code(_CATEGORY, "报考专业类别应为两位数字代码，如01", "major_category")


def _batch(raw: str) -> str:
    found = resolve_batch(raw)
    if found is None:
        names = "或".join(b.name for b in BATCHES)
        raise InvalidArgument(f"批次不正确，应为{names}", field="batch")
    return found.code


def _places(raw: str) -> int:
    value = (raw or "").strip()
    if not _PLACES.match(value) or not 1 <= int(value) <= MAX_PLACES:
        raise InvalidArgument(f"计划数应为1-{MAX_PLACES}的整数", field="places")
    return int(value)


def _name(field: str) -> Callable[[str], str]:
    return lambda raw: parse_text(raw, field=field, label=FIELD_LABELS[field], max_length=60)


_PARSERS: dict[str, Callable[[str], object]] = {
    "batch": _batch,
    "institution_code": _institution_code,
    "institution_name": _name("institution_name"),
    "major_code": _major_code,
    "major_name": _name("major_name"),
    "major_category": _category,
    "places": _places,
}


def check_plan(rows: list[dict[str, str]]) -> tuple[list[PlanLine], list[Problem]]:
    """The plan lines of a file, or every problem found; with problems nothing may be imported."""
    if not rows:
        return [], [Problem(0, "", "导入文件中没有招生计划数据")]
    if len(rows) > MAX_ROWS:
        return [], [Problem(0, "", f"一次最多导入{MAX_ROWS}行")]
    lines: list[PlanLine] = []
    problems: list[Problem] = []
    institution_names: dict[str, tuple[str, int]] = {}
    majors: dict[tuple[str, str], tuple[str, str, int]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for number, raw in enumerate(rows, start=1):
        values: dict[str, object] = {}
        for field, parse in _PARSERS.items():
            try:
                values[field] = parse(raw.get(field, ""))
            except InvalidArgument as err:
                problems.append(Problem(number, field, err.message))
        if len(values) != len(_PARSERS):
            continue
        values["batch_code"] = values.pop("batch")
        line = PlanLine(**values)  # type: ignore[arg-type]
        row_problems = _consistency(line, number, institution_names, majors, seen)
        problems += row_problems
        if not row_problems:
            lines.append(line)
    return (lines, []) if not problems else ([], problems)


def _consistency(
    line: PlanLine,
    number: int,
    institution_names: dict[str, tuple[str, int]],
    majors: dict[tuple[str, str], tuple[str, str, int]],
    seen: dict[tuple[str, str, str], int],
) -> list[Problem]:
    found: list[Problem] = []
    name, first = institution_names.setdefault(line.institution_code, (line.institution_name, number))
    if name != line.institution_name:
        found.append(
            Problem(
                number,
                "institution_name",
                f"院校代号{line.institution_code}在第{first}行的名称为“{name}”，与本行不一致",
            )
        )
    major_name, category, first = majors.setdefault(
        (line.institution_code, line.major_code), (line.major_name, line.major_category, number)
    )
    if major_name != line.major_name:
        found.append(
            Problem(number, "major_name", f"专业代号{line.major_code}在第{first}行的名称为“{major_name}”，与本行不一致")
        )
    if category != line.major_category:
        found.append(
            Problem(
                number,
                "major_category",
                f"专业代号{line.major_code}在第{first}行的报考专业类别为{category}，与本行不一致",
            )
        )
    earlier = seen.setdefault(line.key, number)
    if earlier != number:
        found.append(Problem(number, "major_code", f"与第{earlier}行重复：同一批次同一院校的专业只能有一行计划"))
    return found
