"""Outcome of a dispatch run, as arrays indexed by candidate and by plan position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from services.results.domain.admission.model import PlanEntry, Stage, StageStatus


@dataclass(frozen=True, eq=False, slots=True)
class StageOutcome:
    """One dispatch round (a batch's regular run or its 征集志愿 run).

    Per candidate (input order): ``status`` (StageStatus), ``plan`` index and ``slot``
    (0..7 = A..H) of the dispatch, kept for a returned candidate, else -1.
    Per plan (input order): ``quota`` open for dispatch (0 outside the batch),
    ``dispatched``, ``returned``, and the lowest 投档总分 of those dispatched and of those
    kept after returns (-1 when none).
    """

    batch: str
    stage: Stage
    status: np.ndarray
    plan: np.ndarray
    slot: np.ndarray
    quota: np.ndarray
    dispatched: np.ndarray
    returned: np.ndarray
    lowest_dispatched: np.ndarray
    lowest_admitted: np.ndarray
    return_reasons: Mapping[int, str]

    @property
    def admitted(self) -> np.ndarray:
        return self.dispatched - self.returned


@dataclass(frozen=True, eq=False, slots=True)
class RunResult:
    """All stages in run order; ``rank`` is each candidate's 0-based dispatch position
    (score, then the tie-break chain), ``final_stage`` the stage index that holds the
    candidate's standing dispatch or -1 for 未投档."""

    candidate_ids: tuple[str, ...]
    plans: tuple[PlanEntry, ...]
    rank: np.ndarray
    stages: tuple[StageOutcome, ...]
    final_stage: np.ndarray

    def final_plan(self, i: int) -> PlanEntry | None:
        s = int(self.final_stage[i])
        return None if s < 0 else self.plans[int(self.stages[s].plan[i])]

    def admitted_per_plan(self) -> np.ndarray:
        return sum((s.admitted for s in self.stages), start=np.zeros(len(self.plans), np.int64))


def final_stages(stages: tuple[StageOutcome, ...], n: int) -> np.ndarray:
    final = np.full(n, -1, np.int8)
    for index, stage in enumerate(stages):
        final[stage.status == StageStatus.DISPATCHED] = index
    return final


_ARRAYS = ("status", "plan", "slot", "quota", "dispatched", "returned", "lowest_dispatched", "lowest_admitted")


def differences(a: RunResult, b: RunResult) -> list[str]:
    """Where two results of the same input differ (empty when identical)."""
    found: list[str] = []
    if a.candidate_ids != b.candidate_ids or a.plans != b.plans:
        found.append("inputs differ")
    if not np.array_equal(a.rank, b.rank):
        found.append("rank")
    if not np.array_equal(a.final_stage, b.final_stage):
        found.append("final_stage")
    if len(a.stages) != len(b.stages):
        return [*found, "stage count"]
    for sa, sb in zip(a.stages, b.stages, strict=True):
        where = f"{sa.batch}/{sa.stage}"
        if (sa.batch, sa.stage) != (sb.batch, sb.stage):
            found.append(f"{where}: stage order")
        found.extend(f"{where}: {name}" for name in _ARRAYS if not np.array_equal(getattr(sa, name), getattr(sb, name)))
        if dict(sa.return_reasons) != dict(sb.return_reasons):
            found.append(f"{where}: return_reasons")
    return found
