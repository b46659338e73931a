"""Run the admission dispatch (平行志愿投档) on files, so staff and auditors can reproduce a run.

    python -m services.results.engine_cli --candidates candidates.csv --plans plans.csv \\
        --out results.csv [--plans-out plan_results.csv] [--config config.json] [--returns returns.csv]

File formats: docs/admission-files.md. Bad input is reported (in Chinese, with line
numbers) and nothing is written; outputs appear only when the whole run succeeded.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from services.results.domain.admission import (
    DEFAULT_BATCHES,
    LETTERS,
    AdmissionConfig,
    AdmissionInputError,
    BatchConfig,
    Candidate,
    Explainer,
    PlanEntry,
    Programme,
    Return,
    Stage,
    derive_random_code,
    encode,
    plan_outcomes,
    run_encoded,
    validate_inputs,
)
from zsb.common.errors import DomainError

ENCODING = "utf-8-sig"  # Excel writes and reads the BOM; plain UTF-8 readers skip it
MAX_PROBLEMS = 50
PLAN_COLUMNS = ("batch", "institution", "major", "category", "places")
PLAN_OPTIONAL = ("institution_name", "major_name")
CANDIDATE_COLUMNS = ("candidate_id", "category", "score")
CANDIDATE_OPTIONAL = ("bonus", "jdlk", "random_code")
RETURN_COLUMNS = ("candidate_id", "batch", "reason")
RETURN_OPTIONAL = ("stage",)
SLOT_COLUMN = re.compile(r"^(pref|solicit):([^:]+):([A-H])$")
TRUE_WORDS = {"1", "true", "yes", "是", "y"}
FALSE_WORDS = {"", "0", "false", "no", "否", "n"}
CONFIG_KEYS = {"batches", "tie_break", "random_seed"}
BATCH_KEYS = {"code", "name", "jdlk_only", "control_lines", "default_line", "ratio_percent", "solicitation"}
RESULT_COLUMNS = (
    "candidate_id",
    "category",
    "total",
    "rank",
    "status",
    "batch",
    "stage",
    "slot",
    "institution",
    "major",
    "explanation",
)
PLAN_RESULT_COLUMNS = (
    "batch",
    "stage",
    "institution",
    "major",
    "category",
    "places",
    "quota",
    "dispatched",
    "returned",
    "admitted",
    "lowest_dispatched",
    "lowest_admitted",
)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message)

    def raise_if_any(self) -> None:
        if self.items:
            raise AdmissionInputError(self.items)


def _rows(path: Path, required: Sequence[str], allowed: Callable[[str], bool]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file whose header has every required column and no unknown one."""
    try:
        handle = path.open(encoding=ENCODING, newline="")
    except OSError as exc:
        raise AdmissionInputError([f"无法读取文件 {path}: {exc.strerror}"]) from exc
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in required and not allowed(c)]
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if missing or unknown or duplicated:
            problems = [f"{path.name}: 缺少列 {', '.join(missing)}"] if missing else []
            problems += [f"{path.name}: 无法识别的列 {', '.join(unknown)}"] if unknown else []
            problems += [f"{path.name}: 重复的列 {', '.join(duplicated)}"] if duplicated else []
            raise AdmissionInputError(problems)
        try:
            for row in reader:
                if None in row:
                    raise AdmissionInputError([f"{path.name} 第 {reader.line_num} 行: 列数多于表头"])
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise AdmissionInputError([f"{path.name} 第 {reader.line_num} 行: 不是有效的 UTF-8 CSV（{exc}）"]) from exc


def _int(problems: _Problems, where: str, column: str, text: str, default: int | None = None) -> int:
    if text == "" and default is not None:
        return default
    if not (text.isascii() and text.isdigit()):
        problems.add(f"{where}: {column} 须为非负整数，实为 “{text}”")
        return 0
    return int(text)


def _flag(problems: _Problems, where: str, column: str, text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word not in FALSE_WORDS:
        problems.add(f"{where}: {column} 须为 是/否 或 1/0，实为 “{text}”")
    return False


_PROGRAMMES: dict[str, Programme] = {}


def _programme(problems: _Problems, where: str, column: str, text: str) -> Programme | None:
    """Parse `院校代码/专业代码`; the same few thousand cells repeat, so parsed ones are cached."""
    if text == "":
        return None
    known = _PROGRAMMES.get(text)
    if known is not None:
        return known
    institution, sep, major = text.partition("/")
    if not sep or not institution.strip() or not major.strip() or "/" in major:
        problems.add(f"{where}: {column} 须为 “院校代码/专业代码”，实为 “{text}”")
        return None
    programme = _PROGRAMMES[text] = (institution.strip(), major.strip())
    return programme


def read_config(path: Path | None) -> tuple[AdmissionConfig, str]:
    """The run settings and the random seed (defaults: the two standard batches, no lines)."""
    if path is None:
        return AdmissionConfig(), ""
    try:
        raw = json.loads(path.read_text(encoding=ENCODING))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdmissionInputError([f"无法读取配置 {path}: {exc}"]) from exc
    problems = _Problems()
    if not isinstance(raw, dict):
        raise AdmissionInputError(["配置须为 JSON 对象"])
    for key in sorted(set(raw) - CONFIG_KEYS):
        problems.add(f"配置: 无法识别的键 {key}")
    batches = DEFAULT_BATCHES
    if "batches" in raw:
        if not isinstance(raw["batches"], list):
            raise AdmissionInputError(["配置: batches 须为列表"])
        batches = tuple(_batch(problems, item) for item in raw["batches"])
    tie_break = raw.get("tie_break", [])
    if not (isinstance(tie_break, list) and all(isinstance(x, str) for x in tie_break)):
        problems.add("配置: tie_break 须为字段名列表")
        tie_break = []
    seed = raw.get("random_seed", "")
    if not isinstance(seed, str):
        problems.add("配置: random_seed 须为字符串")
        seed = ""
    problems.raise_if_any()
    return AdmissionConfig(batches=batches, tie_break=tuple(tie_break)), seed


def _batch(problems: _Problems, item: Any) -> BatchConfig:
    if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not isinstance(item.get("name"), str):
        problems.add("配置: 每个批次须为含 code 和 name 的对象")
        return BatchConfig(code="?", name="?")
    for key in sorted(set(item) - BATCH_KEYS):
        problems.add(f"配置: 批次 {item['code']} 无法识别的键 {key}")
    lines = item.get("control_lines", {})
    if not isinstance(lines, dict):
        problems.add(f"配置: 批次 {item['code']} 的 control_lines 须为 类别→分数 对象")
        lines = {}
    for key in ("jdlk_only", "solicitation"):
        if key in item and not isinstance(item[key], bool):
            problems.add(f"配置: 批次 {item['code']} 的 {key} 须为 true/false")
    return BatchConfig(
        code=item["code"],
        name=item["name"],
        jdlk_only=item.get("jdlk_only", False) is True,
        control_lines=dict(lines),
        default_line=item.get("default_line"),
        ratio_percent=item.get("ratio_percent", 100),
        solicitation=item.get("solicitation", True) is not False,
    )


def read_plans(path: Path) -> list[PlanEntry]:
    problems = _Problems()
    plans = []
    for line, row in _rows(path, PLAN_COLUMNS, lambda c: c in PLAN_OPTIONAL):
        where = f"{path.name} 第 {line} 行"
        plans.append(
            PlanEntry(
                batch=row["batch"],
                institution=row["institution"],
                major=row["major"],
                category=row["category"],
                places=_int(problems, where, "places", row["places"]),
                institution_name=row.get("institution_name", ""),
                major_name=row.get("major_name", ""),
            )
        )
    problems.raise_if_any()
    return plans


def read_candidates(path: Path, config: AdmissionConfig, seed: str) -> list[Candidate]:
    problems = _Problems()
    tie_fields = set(config.tie_break)

    def allowed(column: str) -> bool:
        return column in CANDIDATE_OPTIONAL or column in tie_fields or bool(SLOT_COLUMN.match(column))

    candidates = []
    slot_columns: list[tuple[str, str, str, int]] | None = None
    for line, row in _rows(path, (*CANDIDATE_COLUMNS, *config.tie_break), allowed):
        where = f"{path.name} 第 {line} 行"
        if slot_columns is None:
            slot_columns = [(c, m[1], m[2], LETTERS.index(m[3])) for c in row if (m := SLOT_COLUMN.match(c))]
        lists: dict[str, dict[str, list[Programme | None]]] = {"pref": {}, "solicit": {}}
        for column, kind, batch, slot in slot_columns:
            programme = _programme(problems, where, column, row[column])
            if programme is not None:
                slots = lists[kind].setdefault(batch, [])
                slots.extend([None] * (slot + 1 - len(slots)))
                slots[slot] = programme
        cid = row["candidate_id"]
        code_text = row.get("random_code", "")
        candidates.append(
            Candidate(
                candidate_id=cid,
                category=row["category"],
                score=_int(problems, where, "score", row["score"]),
                bonus=_int(problems, where, "bonus", row.get("bonus", ""), default=0),
                jdlk=_flag(problems, where, "jdlk", row.get("jdlk", "")),
                random_code=(
                    _int(problems, where, "random_code", code_text) if code_text else derive_random_code(seed, cid)
                ),
                tie_break={name: _int(problems, where, name, row[name]) for name in config.tie_break},
                preferences={b: tuple(s) for b, s in lists["pref"].items()},
                solicitation={b: tuple(s) for b, s in lists["solicit"].items()},
            )
        )
    problems.raise_if_any()
    return candidates


def read_returns(path: Path | None) -> list[Return]:
    if path is None:
        return []
    problems = _Problems()
    returns = []
    for line, row in _rows(path, RETURN_COLUMNS, lambda c: c in RETURN_OPTIONAL):
        stage = row.get("stage") or Stage.REGULAR.value
        if stage not in {s.value for s in Stage}:
            problems.add(f"{path.name} 第 {line} 行: stage 须为 regular 或 solicitation，实为 “{stage}”")
            continue
        returns.append(Return(row["candidate_id"], row["batch"], row["reason"], Stage(stage)))
    problems.raise_if_any()
    return returns


def _write_all(outputs: Sequence[tuple[Path, Sequence[str], Iterable[Sequence[object]]]]) -> None:
    """Write every output to a temporary file beside it, then rename them all: a failure
    at any point leaves the earlier outputs as they were and no temporary file behind."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, columns, rows in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            temps.append((tmp, path))
            with os.fdopen(fd, "w", encoding=ENCODING, newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows(rows)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def run_files(
    candidates_path: Path,
    plans_path: Path,
    out: Path,
    *,
    plans_out: Path | None = None,
    config_path: Path | None = None,
    returns_path: Path | None = None,
) -> dict[str, Any]:
    """Read, validate, dispatch and write; returns a summary (counts, timings, digests)."""
    config, seed = read_config(config_path)
    plans = read_plans(plans_path)
    candidates = read_candidates(candidates_path, config, seed)
    returns = read_returns(returns_path)
    validate_inputs(candidates, plans, config, returns)
    data = encode(candidates, plans, config, validate=False)
    started = time.perf_counter()
    result = run_encoded(data, returns)
    seconds = time.perf_counter() - started

    explainer = Explainer(data, result)
    categories = data.categories
    category = data.category.tolist()

    def result_rows() -> Iterator[tuple[object, ...]]:  # rendered while writing: 1M rows are not held
        for i, o in enumerate(explainer.outcomes()):
            plan = o.plan
            yield (
                o.candidate_id,
                categories[category[i]],
                o.total,
                o.rank,
                "dispatched" if o.dispatched else "not_dispatched",
                o.batch,
                o.stage,
                o.slot,
                plan.institution if plan else "",
                plan.major if plan else "",
                o.explanation,
            )

    plan_rows = [
        (
            po.plan.batch,
            po.stage.value,
            po.plan.institution,
            po.plan.major,
            po.plan.category,
            po.plan.places,
            po.quota,
            po.dispatched,
            po.returned,
            po.admitted,
            "" if po.lowest_dispatched is None else po.lowest_dispatched,
            "" if po.lowest_admitted is None else po.lowest_admitted,
        )
        for po in plan_outcomes(result)
    ]
    outputs: list[tuple[Path, Sequence[str], Iterable[Sequence[object]]]] = [(out, RESULT_COLUMNS, result_rows())]
    if plans_out is not None:
        outputs.append((plans_out, PLAN_RESULT_COLUMNS, plan_rows))
    _write_all(outputs)

    inputs = [p for p in (candidates_path, plans_path, config_path, returns_path) if p is not None]
    outputs = [p for p in (out, plans_out) if p is not None]
    return {
        "candidates": len(candidates),
        "plans": len(plans),
        "dispatched": int((result.final_stage >= 0).sum()),
        "dispatch_seconds": round(seconds, 3),
        "sha256": {str(p): _digest(p) for p in [*inputs, *outputs]},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.results.engine_cli",
        description="平行志愿投档（文件输入输出，可复现）。格式见 docs/admission-files.md",
    )
    parser.add_argument("--candidates", type=Path, required=True, help="考生 CSV")
    parser.add_argument("--plans", type=Path, required=True, help="招生计划 CSV")
    parser.add_argument("--out", type=Path, required=True, help="考生投档结果 CSV（输出）")
    parser.add_argument("--plans-out", type=Path, help="各院校专业投档统计 CSV（输出）")
    parser.add_argument("--config", type=Path, help="批次、控制线、调档比例与同分排序 JSON")
    parser.add_argument("--returns", type=Path, help="退档 CSV")
    args = parser.parse_args(argv)
    try:
        summary = run_files(
            args.candidates,
            args.plans,
            args.out,
            plans_out=args.plans_out,
            config_path=args.config,
            returns_path=args.returns,
        )
    except AdmissionInputError as exc:
        print(f"错误: 投档数据有误，未生成任何结果（{len(exc.problems)} 处问题）", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"错误: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
