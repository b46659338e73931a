"""Chinese explanations of each candidate's result, and the per-plan summary.

Why an earlier preference did not take the candidate is derived, not recorded: in a
serial dispatch, a usable preference before the one that took the candidate (or any
usable preference of an undispatched candidate) was full at their turn, filled by
candidates ahead of them, so its lowest 投档分 in that stage is at least theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from services.results.domain.admission.columnar import EncodedInput
from services.results.domain.admission.model import (
    BatchConfig,
    PlanEntry,
    PrefCode,
    Stage,
    StageStatus,
    slot_label,
    stage_label,
)
from services.results.domain.admission.result import RunResult, StageOutcome


@dataclass(frozen=True, slots=True)
class CandidateOutcome:
    candidate_id: str
    total: int
    rank: int  # 1-based dispatch position over all candidates
    dispatched: bool
    batch: str
    stage: str
    slot: str
    plan: PlanEntry | None
    explanation: str


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan: PlanEntry
    stage: Stage
    quota: int
    dispatched: int
    returned: int
    admitted: int
    lowest_dispatched: int | None
    lowest_admitted: int | None


class _StageView:
    """One stage's arrays as Python lists: rendering touches them one element at a time,
    which is much faster on lists than on numpy arrays."""

    def __init__(self, data: EncodedInput, outcome: StageOutcome, batch: BatchConfig) -> None:
        self.outcome = outcome
        self.regular = outcome.stage is Stage.REGULAR
        self.prefs = (data.preferences if self.regular else data.solicitation)[outcome.batch]
        self.filled: list[bool] = (self.prefs != PrefCode.EMPTY).any(axis=1).tolist()
        self.status: list[int] = outcome.status.tolist()
        self.slot: list[int] = outcome.slot.tolist()
        self.plan: list[int] = outcome.plan.tolist()
        self.quota: list[int] = outcome.quota.tolist()
        self.lowest: list[int] = outcome.lowest_dispatched.tolist()
        self.head = f"{stage_label(batch, outcome.stage)}: "
        self.where = [f"{stage_label(batch, outcome.stage)} {slot_label(outcome.stage, k)}" for k in range(8)]
        self.labels = [slot_label(outcome.stage, k) for k in range(8)]
        self.none_left = f"无{'招生计划' if self.regular else '征集缺额'}"


class Explainer:
    """Renders explanations for one run (build once, call per candidate)."""

    def __init__(self, data: EncodedInput, result: RunResult) -> None:
        self.data = data
        self.result = result
        self.batches: dict[str, BatchConfig] = {b.code: b for b in data.config.batches}
        self.views = [_StageView(data, outcome, self.batches[outcome.batch]) for outcome in result.stages]
        self.total: list[int] = data.total.tolist()
        self.category: list[str] = [data.categories[c] for c in data.category.tolist()]
        self.final: list[int] = result.final_stage.tolist()
        self.rank: list[int] = result.rank.tolist()
        self.plan_labels = [plan.label for plan in result.plans]

    def _slot_note(self, view: _StageView, i: int, k: int, code: int, returned_plan: int) -> str:
        label = view.labels[k]
        if code == PrefCode.NO_PROGRAMME:
            return f"{label} 无效: 本批次无此院校专业"
        if code == PrefCode.WRONG_CATEGORY:
            return f"{label} 无效: 该院校专业不招收 {self.category[i]} 考生"
        if code == returned_plan:
            return f"{label} 不可投: 已被该院校专业退档"
        if view.quota[code] == 0:
            return f"{label} {view.none_left}"
        lowest = view.lowest[code]
        tie = "（同分，排序在后）" if lowest == self.total[i] else ""
        return f"{label} 已满: 最低投档分 {lowest}{tie}"

    def _stage_note(self, view: _StageView, i: int, returned_plan: int) -> str | None:
        status = view.status[i]
        if status == StageStatus.ALREADY_ADMITTED:
            return None
        if status == StageStatus.INELIGIBLE:
            return view.head + "不符合报考条件（仅限建档立卡考生）" if view.filled[i] else None
        if status == StageStatus.BELOW_LINE:
            if not (view.regular or view.filled[i]):
                return None
            line = self.batches[view.outcome.batch].line_for(self.category[i])
            return view.head + f"投档总分 {self.total[i]} 低于 {self.category[i]} 控制线 {line}"
        if status == StageStatus.NO_PREFERENCES:
            return view.head + "未填报志愿" if view.regular else None
        prefs: list[int] = view.prefs[i].tolist()
        last = len(prefs) if status == StageStatus.NOT_DISPATCHED else view.slot[i]
        notes = [
            self._slot_note(view, i, k, code, returned_plan)
            for k, code in enumerate(prefs[:last])
            if code != PrefCode.EMPTY
        ]
        if status == StageStatus.NOT_DISPATCHED:
            notes.append("所填志愿均未能投档")
        elif status == StageStatus.RETURNED:
            reason = view.outcome.return_reasons[i]
            notes.append(f"{view.labels[last]} 投档 {self.plan_labels[view.plan[i]]}，被退档: {reason}")
        else:
            notes.append(f"{view.labels[last]} 投档")
        return view.head + "；".join(notes)

    def explain(self, i: int) -> str:
        """The candidate's explanation: the standing result first, then each stage."""
        final = self.final[i]
        if final >= 0:
            view = self.views[final]
            summary = f"已投档: {view.where[view.slot[i]]} {self.plan_labels[view.plan[i]]}"
        else:
            summary = "未投档"
        notes: list[str] = []
        returned_plan = -1
        for view in self.views:
            if view.regular:
                returned_plan = view.plan[i] if view.status[i] == StageStatus.RETURNED else -1
            note = self._stage_note(view, i, -1 if view.regular else returned_plan)
            if note:
                notes.append(note)
        return f"{summary}。" + "。".join(notes) + ("。" if notes else "")

    def outcome(self, i: int) -> CandidateOutcome:
        final = self.final[i]
        view = self.views[final] if final >= 0 else None
        return CandidateOutcome(
            candidate_id=self.result.candidate_ids[i],
            total=self.total[i],
            rank=self.rank[i] + 1,
            dispatched=view is not None,
            batch=view.outcome.batch if view else "",
            stage=view.outcome.stage.value if view else "",
            slot=view.labels[view.slot[i]] if view else "",
            plan=self.result.plans[view.plan[i]] if view else None,
            explanation=self.explain(i),
        )

    def outcomes(self) -> Iterator[CandidateOutcome]:
        for i in range(len(self.result.candidate_ids)):
            yield self.outcome(i)


def plan_outcomes(result: RunResult) -> list[PlanOutcome]:
    """Per stage, each plan of the stage's batch: places open, dispatched, returned,
    admitted, and the lowest 投档总分 dispatched and admitted."""
    rows: list[PlanOutcome] = []
    for outcome in result.stages:
        for j, plan in enumerate(result.plans):
            if plan.batch != outcome.batch:
                continue
            low_d, low_a = int(outcome.lowest_dispatched[j]), int(outcome.lowest_admitted[j])
            rows.append(
                PlanOutcome(
                    plan=plan,
                    stage=outcome.stage,
                    quota=int(outcome.quota[j]),
                    dispatched=int(outcome.dispatched[j]),
                    returned=int(outcome.returned[j]),
                    admitted=int(outcome.admitted[j]),
                    lowest_dispatched=low_d if low_d >= 0 else None,
                    lowest_admitted=low_a if low_a >= 0 else None,
                )
            )
    return rows
