"""Checks of the dispatch inputs, shared by the fast engine and the reference.

Every problem is collected (up to a limit) so staff get one report for a file, and the
run is refused as a whole: nothing is dispatched on bad input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from services.results.domain.admission.model import (
    MAX_PREFERENCES,
    MAX_RATIO_PERCENT,
    MIN_RATIO_PERCENT,
    RANDOM_CODE_LIMIT,
    AdmissionConfig,
    Candidate,
    PlanEntry,
    Return,
    Stage,
)
from zsb.common.errors import InvalidArgument

MAX_PROBLEMS = 50
MAX_POINTS = 100_000  # far above any exam total; keeps every sum inside int32


class AdmissionInputError(InvalidArgument):
    """The dispatch inputs are inconsistent; ``problems`` lists each finding in Chinese."""

    def __init__(self, problems: Sequence[str]) -> None:
        shown = "；".join(problems[:5])
        more = f"（共 {len(problems)} 处问题）" if len(problems) > 5 else ""
        super().__init__(f"投档数据有误: {shown}{more}", reason="admission_input_invalid")
        self.problems = list(problems)


def derive_random_code(seed: str, candidate_id: str) -> int:
    """Reproducible random code (随机码) of a candidate: 64 bits of BLAKE2b(seed, id).

    Published with the seed, anyone can recompute it; no one can steer it without
    changing the seed for everybody.
    """
    digest = hashlib.blake2b(f"{seed}\x1f{candidate_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message)

    def raise_if_any(self) -> None:
        if self.items:
            raise AdmissionInputError(self.items)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_points(problems: _Problems, who: str, what: str, value: object) -> None:
    if not _is_int(value) or not 0 <= value <= MAX_POINTS:  # type: ignore[operator]
        problems.add(f"{who}: {what}须为 0–{MAX_POINTS} 的整数分，实为 {value!r}")


def validate_config(config: AdmissionConfig) -> None:
    problems = _Problems()
    if not config.batches:
        problems.add("未配置任何批次")
    codes = [b.code for b in config.batches]
    for code in {c for c in codes if codes.count(c) > 1}:
        problems.add(f"批次代码重复: {code}")
    for batch in config.batches:
        if not batch.code or not batch.name:
            problems.add("批次须有代码和名称")
        if not _is_int(batch.ratio_percent) or not MIN_RATIO_PERCENT <= batch.ratio_percent <= MAX_RATIO_PERCENT:
            problems.add(
                f"{batch.name}: 调档比例须为 {MIN_RATIO_PERCENT}–{MAX_RATIO_PERCENT} 的整数百分比，"
                f"实为 {batch.ratio_percent!r}"
            )
        for category, line in batch.control_lines.items():
            _check_points(problems, batch.name, f"{category} 控制线", line)
        if batch.default_line is not None:
            _check_points(problems, batch.name, "默认控制线", batch.default_line)
    if len(set(config.tie_break)) != len(config.tie_break) or not all(config.tie_break):
        problems.add(f"同分排序字段须非空且不重复: {list(config.tie_break)}")
    problems.raise_if_any()


def _is_programme(slot: object) -> bool:
    return (
        type(slot) is tuple and len(slot) == 2 and all(type(part) is str and part for part in slot)  # type: ignore[union-attr]
    )


def _check_slots(
    problems: _Problems,
    who: str,
    kind: str,
    lists: object,
    batches: set[str],
    known: set[object],
) -> None:
    """``known`` caches programme tuples already seen well-formed (they repeat a lot)."""
    if not hasattr(lists, "items"):
        problems.add(f"{who}: {kind}格式有误")
        return
    for batch, slots in lists.items():  # type: ignore[union-attr]
        if batch not in batches:
            problems.add(f"{who}: {kind}中的批次 {batch} 未配置")
            continue
        if len(slots) > MAX_PREFERENCES:
            problems.add(f"{who}: {batch} {kind}最多 {MAX_PREFERENCES} 个，实为 {len(slots)} 个")
        filled = [s for s in slots if s is not None]
        for slot in filled:
            if slot not in known:
                if not _is_programme(slot):
                    problems.add(f"{who}: {batch} {kind}须为 (院校代码, 专业代码)")
                    break
                known.add(slot)
        if len(set(filled)) != len(filled):
            problems.add(f"{who}: {batch} {kind}中有重复的院校专业")


def validate_inputs(
    candidates: Sequence[Candidate],
    plans: Sequence[PlanEntry],
    config: AdmissionConfig,
    returns: Iterable[Return] = (),
) -> None:
    """Raise ``AdmissionInputError`` listing every problem found; return quietly otherwise."""
    validate_config(config)
    problems = _Problems()
    batches = {b.code: b for b in config.batches}
    seen_plans: set[tuple[str, str, str, str]] = set()
    for plan in plans:
        key = (plan.batch, plan.institution, plan.major, plan.category)
        who = f"招生计划 {plan.batch}/{plan.institution}/{plan.major}/{plan.category}"
        if plan.batch not in batches:
            problems.add(f"{who}: 批次未配置")
        if not all(isinstance(x, str) and x for x in (plan.institution, plan.major, plan.category)):
            problems.add(f"{who}: 院校代码、专业代码和类别不能为空")
        if key in seen_plans:
            problems.add(f"{who}: 重复")
        seen_plans.add(key)
        if not _is_int(plan.places) or plan.places < 0:
            problems.add(f"{who}: 计划数须为非负整数，实为 {plan.places!r}")

    ids: set[str] = set()
    missing_lines: set[tuple[str, str]] = set()
    batch_codes = set(batches)
    known: set[object] = set()
    for cand in candidates:
        who = f"考生 {cand.candidate_id}"
        if not cand.candidate_id:
            problems.add("考生号不能为空")
        elif cand.candidate_id in ids:
            problems.add(f"{who}: 考生号重复")
        ids.add(cand.candidate_id)
        if not (isinstance(cand.category, str) and cand.category):
            problems.add(f"{who}: 类别不能为空")
        if not isinstance(cand.jdlk, bool):
            problems.add(f"{who}: 建档立卡标记须为是或否")
        _check_points(problems, who, "成绩", cand.score)
        _check_points(problems, who, "加分", cand.bonus)
        if not _is_int(cand.random_code) or not 0 <= cand.random_code < RANDOM_CODE_LIMIT:
            problems.add(f"{who}: 随机码须为 0–2^64-1 的整数")
        for name in config.tie_break:
            value = cand.tie_break.get(name)
            if value is None:
                problems.add(f"{who}: 缺少同分排序字段 {name}")
            else:
                _check_points(problems, who, name, value)
        _check_slots(problems, who, "平行志愿", cand.preferences, batch_codes, known)
        _check_slots(problems, who, "征集志愿", cand.solicitation, batch_codes, known)
        for batch in config.batches:
            if (cand.jdlk or not batch.jdlk_only) and batch.line_for(cand.category) is None:
                missing_lines.add((batch.name, cand.category))

    for batch_name, category in sorted(missing_lines):
        problems.add(f"{batch_name}: 未设置 {category} 类控制线")

    problems.raise_if_any()
    validate_returns(returns, ids, config)


def validate_returns(returns: Iterable[Return], ids: set[str], config: AdmissionConfig) -> None:
    """Each return names a known candidate, a configured batch stage and a reason."""
    problems = _Problems()
    batches = {b.code: b for b in config.batches}
    seen_returns: set[tuple[str, str, Stage]] = set()
    for ret in returns:
        who = f"退档 {ret.candidate_id}"
        if ret.candidate_id not in ids:
            problems.add(f"{who}: 无此考生")
        batch = batches.get(ret.batch)
        if batch is None:
            problems.add(f"{who}: 批次 {ret.batch} 未配置")
        if ret.stage not in (Stage.REGULAR, Stage.SOLICITATION):
            problems.add(f"{who}: 轮次须为 regular 或 solicitation")
        elif batch is not None and ret.stage == Stage.SOLICITATION and not batch.solicitation:
            problems.add(f"{who}: {batch.name} 未安排征集志愿")
        if not isinstance(ret.reason, str) or not ret.reason.strip():
            problems.add(f"{who}: 须注明退档原因")
        key = (ret.candidate_id, ret.batch, ret.stage)
        if key in seen_returns:
            problems.add(f"{who}: 重复退档")
        seen_returns.add(key)
    problems.raise_if_any()
