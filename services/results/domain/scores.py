"""Score lists: checking an import file's rows, ranks (位次) and score bands (分数段).

Points are whole numbers (the engine ranks on integers). When the file has subject columns,
the total must be the sum of the subjects the candidate has a score in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CANDIDATE_COLUMN = "考生号"
TOTAL_COLUMN = "总分"
MAX_SUBJECTS = 8
MAX_POINTS = 1000
MAX_ERRORS = 2000  # reported at most; the count says how many there were
CANDIDATE_NO_MAX = 14
BAND_WIDTH = 10


@dataclass(frozen=True)
class RowProblem:
    line: int  # line of the file; 0: the whole file
    column: str
    message: str


@dataclass(frozen=True)
class ScoreRow:
    candidate_no: str
    total: int
    subjects: tuple[int | None, ...]  # per subject column; None: no score in that subject


@dataclass(frozen=True)
class CandidateFact:
    """What the service knows of a 考生号 from the registration events."""

    confirmed: bool
    abandoned: bool


@dataclass
class ParsedScores:
    subjects: list[str]
    rows: list[ScoreRow]
    problems: list[RowProblem]
    problem_count: int = 0

    def add(self, line: int, column: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_ERRORS:
            self.problems.append(RowProblem(line, column, message))


def _points(text: str) -> int | None:
    """Whole points from a cell ('236', '236.0'); None when it is not a whole number in range."""
    value = text.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= MAX_POINTS else None


def check_header(header: Sequence[str]) -> tuple[list[str], list[RowProblem]]:
    """The subject columns (every column but 考生号 and 总分), or the problems of the header."""
    problems: list[RowProblem] = []
    names = [h.strip() for h in header]
    for required in (CANDIDATE_COLUMN, TOTAL_COLUMN):
        if required not in names:
            problems.append(RowProblem(1, required, f"缺少列：{required}"))
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        problems.append(RowProblem(1, name, f"列名重复：{name}"))
    for position, name in enumerate(names, start=1):
        if not name:
            problems.append(RowProblem(1, "", f"第{position}列缺少列名"))
    subjects = [n for n in names if n and n not in (CANDIDATE_COLUMN, TOTAL_COLUMN)]
    if len(subjects) > MAX_SUBJECTS:
        problems.append(RowProblem(1, "", f"科目列最多{MAX_SUBJECTS}个，实为{len(subjects)}个"))
    return subjects, problems


def parse_scores(
    header: Sequence[str],
    lines: Sequence[tuple[int, Sequence[str]]],
    known: Mapping[str, CandidateFact],
) -> ParsedScores:
    """Every row checked; ``known`` holds the 考生号s the registration events told of."""
    subjects, header_problems = check_header(header)
    parsed = ParsedScores(subjects, [], [])
    for problem in header_problems:
        parsed.add(problem.line, problem.column, problem.message)
    if header_problems:
        return parsed
    names = [h.strip() for h in header]
    at_no, at_total = names.index(CANDIDATE_COLUMN), names.index(TOTAL_COLUMN)
    at_subjects = [names.index(s) for s in subjects]
    seen: dict[str, int] = {}
    for line, cells in lines:
        if len(cells) > len(names) and any(c.strip() for c in cells[len(names) :]):
            parsed.add(line, "", "该行的数据多于列名")
            continue
        padded = [*cells, *[""] * (len(names) - len(cells))]
        before = parsed.problem_count
        number = padded[at_no].strip()
        if not number:
            parsed.add(line, CANDIDATE_COLUMN, "考生号不能为空")
        elif len(number) > CANDIDATE_NO_MAX or not (number.isascii() and number.isalnum()):
            parsed.add(line, CANDIDATE_COLUMN, f"考生号格式不正确：{number}")
        elif number in seen:
            parsed.add(line, CANDIDATE_COLUMN, f"考生号重复（与第{seen[number]}行相同）")
        else:
            seen[number] = line
            fact = known.get(number)
            if fact is None or not fact.confirmed:
                parsed.add(line, CANDIDATE_COLUMN, "未找到该考生已确认的报名信息")
            elif fact.abandoned:
                parsed.add(line, CANDIDATE_COLUMN, "该考生已放弃报名")
        total = _points(padded[at_total])
        if total is None:
            parsed.add(line, TOTAL_COLUMN, f"总分须为0–{MAX_POINTS}的整数，实为“{padded[at_total].strip()}”")
        points: list[int | None] = []
        for name, at in zip(subjects, at_subjects, strict=True):
            text = padded[at].strip()
            if not text:
                points.append(None)
                continue
            value = _points(text)
            if value is None:
                parsed.add(line, name, f"{name}成绩须为0–{MAX_POINTS}的整数或留空，实为“{text}”")
            points.append(value)
        if parsed.problem_count > before:
            continue
        assert total is not None
        if subjects and total != sum(p for p in points if p is not None):
            taken = sum(p for p in points if p is not None)
            parsed.add(line, TOTAL_COLUMN, f"总分 {total} 与各科成绩之和 {taken} 不符")
            continue
        parsed.rows.append(ScoreRow(number, total, tuple(points)))
    if not parsed.rows and not parsed.problem_count:
        parsed.add(0, "", "文件中没有成绩数据")
    return parsed


# ---- 位次 and 分数段 ----


def category_ranks(category: np.ndarray, total: np.ndarray) -> np.ndarray:
    """位次 of each candidate in their category by ``total``: 1 + the number of candidates of
    the category with a strictly higher total (equal totals share a rank)."""
    n = total.size
    ranks = np.zeros(n, np.int64)
    if n == 0:
        return ranks
    order = np.lexsort((-total, category))
    cat_sorted, total_sorted = category[order], total[order]
    new_group = np.r_[True, cat_sorted[1:] != cat_sorted[:-1]]
    new_value = new_group | np.r_[True, total_sorted[1:] != total_sorted[:-1]]
    position = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    value_start = np.maximum.accumulate(np.where(new_value, position, 0))
    ranks[order] = value_start - group_start + 1
    return ranks


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    count: int
    cumulative: int  # candidates at or above ``low``


def score_bands(totals: np.ndarray, width: int = BAND_WIDTH) -> list[Band]:
    """Bands of ``width`` points from the highest occupied band down to the lowest, including
    empty bands between them, with the cumulative count from the top."""
    if totals.size == 0:
        return []
    floor = totals // width
    top, bottom = int(floor.max()), int(floor.min())
    counts = np.bincount(top - floor, minlength=top - bottom + 1)
    cumulative = np.cumsum(counts)
    return [
        Band((top - k) * width, (top - k) * width + width - 1, int(counts[k]), int(cumulative[k]))
        for k in range(top - bottom + 1)
    ]
