"""Parallel-preference dispatch on 1,000,000 candidates, 8 preferences in each of two
batches over 2,000 institution-majors: time and peak memory of the numpy engine against
the plain-Python reference (``run_naive``) measured in the same run on the same data.

"Algorithm alone" is ``run_encoded`` on the already encoded arrays (ranking, both
batches with their 征集志愿 stages, per-plan figures); encoding the objects is timed
separately. Peak memory is the tracemalloc peak of one call (numpy reports its buffers).
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

from services.results.domain.admission import (
    AdmissionConfig,
    BatchConfig,
    Candidate,
    PlanEntry,
    RunResult,
    differences,
    encode,
    run_encoded,
    run_naive,
)

CANDIDATES = 1_000_000
PROGRAMMES = 2_000
INSTITUTIONS = 40
CATEGORIES = ("计算机类", "经济与管理类", "教育类", "医学类", "机械类", "文学类", "艺术类", "农学类")
JDLK_SHARE = 0.06
JDLK_PROGRAMMES = 600
SEED = 20250701

CONFIG = AdmissionConfig(
    batches=(
        BatchConfig("jdlk", "建档立卡专项批本科", jdlk_only=True, default_line=150),
        BatchConfig("ordinary", "普通批本科", default_line=160, ratio_percent=105),
    ),
    tie_break=("专业课", "公共课"),
)


def _distinct_first(draws: np.ndarray, keep: int) -> np.ndarray:
    """Per row, the first ``keep`` distinct values in draw order (-1 pads a short row)."""
    rows = draws.shape[0]
    by_value = np.argsort(draws, axis=1, kind="stable")
    sorted_values = np.take_along_axis(draws, by_value, axis=1)
    repeat_sorted = np.zeros_like(draws, dtype=np.bool_)
    repeat_sorted[:, 1:] = sorted_values[:, 1:] == sorted_values[:, :-1]
    repeat = np.zeros_like(repeat_sorted)
    np.put_along_axis(repeat, by_value, repeat_sorted, axis=1)
    ordinal = np.cumsum(~repeat, axis=1)
    chosen = ~repeat & (ordinal <= keep)
    out = np.full((rows, keep), -1, draws.dtype)
    r, c = np.nonzero(chosen)
    out[r, ordinal[r, c] - 1] = draws[r, c]
    return out


def _preferences(rng: np.random.Generator, category: np.ndarray, programmes: np.ndarray) -> np.ndarray:
    """8 distinct programmes per candidate: 9 in 10 of their own category, popular ones likelier."""
    per_category = [np.flatnonzero(programmes == c) for c in range(len(CATEGORIES))]
    draws = np.empty((category.size, 16), np.int64)
    for c, members in enumerate(per_category):
        rows = np.flatnonzero(category == c)
        weights = 1.0 / np.arange(1, members.size + 1) ** 0.8
        draws[rows] = members[rng.choice(members.size, size=(rows.size, 16), p=weights / weights.sum())]
    stray = rng.random(draws.shape) < 0.1  # some pick another category's major (invalid for them)
    draws[stray] = rng.integers(0, programmes.size, stray.sum())
    return _distinct_first(draws, 8)


def generate(n: int = CANDIDATES, seed: int = SEED) -> tuple[list[Candidate], list[PlanEntry]]:
    rng = np.random.default_rng(seed)
    programme_category = np.arange(PROGRAMMES) % len(CATEGORIES)
    codes = [(f"{10100 + p % INSTITUTIONS}", f"{p // INSTITUTIONS:06d}") for p in range(PROGRAMMES)]
    ordinary_places = rng.integers(100, 450, PROGRAMMES) * n // 1_000_000
    jdlk_programmes = rng.choice(PROGRAMMES, JDLK_PROGRAMMES, replace=False)
    jdlk_places = rng.integers(5, 50, JDLK_PROGRAMMES) * n // 1_000_000
    plans = [
        PlanEntry("ordinary", *codes[p], CATEGORIES[programme_category[p]], int(ordinary_places[p]))
        for p in range(PROGRAMMES)
    ]
    plans += [
        PlanEntry("jdlk", *codes[p], CATEGORIES[programme_category[p]], int(places))
        for p, places in zip(jdlk_programmes, jdlk_places, strict=True)
    ]

    category = rng.integers(0, len(CATEGORIES), n)
    professional = np.clip(rng.normal(95, 22, n), 0, 150).astype(np.int64)
    public = np.clip(rng.normal(95, 20, n), 0, 150).astype(np.int64)
    bonus = np.where(rng.random(n) < 0.03, rng.choice([5, 10], n), 0)
    jdlk = rng.random(n) < JDLK_SHARE
    random_code = rng.integers(0, 1 << 63, n, dtype=np.uint64) * 2 + rng.integers(0, 2, n, dtype=np.uint64)
    ordinary = _preferences(rng, category, programme_category).tolist()
    special = _preferences(rng, category, programme_category).tolist()
    empty: MappingProxyType[str, tuple] = MappingProxyType({})
    slot_codes: list[tuple[str, str] | None] = [*codes, None]  # index -1 = empty slot
    columns = zip(
        category.tolist(),
        professional.tolist(),
        public.tolist(),
        bonus.tolist(),
        jdlk.tolist(),
        random_code.tolist(),
        ordinary,
        special,
        strict=True,
    )
    candidates = []
    for i, (cat, prof, pub, extra, poor, code, ordinary_row, special_row) in enumerate(columns):
        candidates.append(
            Candidate(
                candidate_id=f"25140{i:09d}",
                category=CATEGORIES[cat],
                score=prof + pub,
                bonus=extra,
                jdlk=poor,
                random_code=code,
                tie_break={"专业课": prof, "公共课": pub},
                # everyone fills both batches; only 建档立卡 candidates take part in the special one
                preferences={
                    "ordinary": tuple(slot_codes[p] for p in ordinary_row),
                    "jdlk": tuple(slot_codes[p] for p in special_row),
                },
                solicitation=empty,
            )
        )
    return candidates, plans


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Value, wall seconds and CPU seconds of this process (the machine is shared: CPU time
    shows the cost when other work competes for the cores)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def _peak(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _summary(result: RunResult) -> str:
    parts = [f"{s.batch}/{s.stage}: {int(s.dispatched.sum()):,}" for s in result.stages]
    placed = int((result.final_stage >= 0).sum())
    return "dispatched " + ", ".join(parts) + f"; {placed:,} of {result.rank.size:,} candidates placed"


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    (candidates, plans), generated, _ = _timed(generate)
    print(f"generated {len(candidates):,} candidates, {len(plans):,} plan entries in {generated:.1f} s", flush=True)
    data, encoded, encoded_cpu = _timed(lambda: encode(candidates, plans, CONFIG))
    print(f"validate + encode (objects -> arrays): {encoded:.2f} s wall, {encoded_cpu:.2f} s CPU", flush=True)

    runs = [_timed(lambda: run_encoded(data)) for _ in range(3)]
    fast = runs[0][0]
    fast_wall = statistics.median(r[1] for r in runs)
    fast_cpu = statistics.median(r[2] for r in runs)
    fast_peak = _peak(lambda: run_encoded(data))
    print(
        f"numpy engine, algorithm alone: {fast_wall:.3f} s wall, {fast_cpu:.3f} s CPU (median of {len(runs)}), "
        f"peak {fast_peak / 2**20:.0f} MiB",
        flush=True,
    )
    print(f"  {_summary(fast)}", flush=True)

    naive, naive_wall, naive_cpu = _timed(lambda: run_naive(candidates, plans, CONFIG, validate=False))
    naive_peak = _peak(lambda: run_naive(candidates, plans, CONFIG, validate=False))
    print(
        f"naive pure Python (baseline):  {naive_wall:.3f} s wall, {naive_cpu:.3f} s CPU, "
        f"peak {naive_peak / 2**20:.0f} MiB",
        flush=True,
    )
    diffs = differences(fast, naive)
    print(f"results identical to the baseline: {not diffs}" + (f" (differ in {diffs})" if diffs else ""))
    print(
        f"ratio baseline/engine: {naive_wall / fast_wall:.1f}x wall, {naive_cpu / fast_cpu:.1f}x CPU; "
        f"including encoding {naive_wall / (fast_wall + encoded):.1f}x wall; "
        f"peak memory engine/baseline {fast_peak / naive_peak:.2f}"
    )


if __name__ == "__main__":
    main()
