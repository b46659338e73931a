"""Fast dispatch engine (numpy): 分数优先、遵循志愿、一次投档.

Per stage, candidates are taken in dispatch order and each gets the first preference
that still has a place. That rule is sequential, so the kernel walks the order in
windows: it gives everyone in a window the first preference open at the window's
start, then keeps only the prefix before the first candidate whose plan would overflow
(a plan fills there, so later choices may change) and starts the next window at that
candidate. A window that stops early fills a plan (and a plan fills once per stage), any
other window is at least 64 rows, so there are at most #plans + n/64 windows (about 1,100
for 1,000,000 candidates over 2,000 plans), and the result is exactly that of the
one-by-one loop in ``naive``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.results.domain.admission.columnar import EncodedInput, encode
from services.results.domain.admission.model import (
    AdmissionConfig,
    BatchConfig,
    Candidate,
    PlanEntry,
    PrefCode,
    Return,
    Stage,
    StageStatus,
)
from services.results.domain.admission.ranking import dispatch_order
from services.results.domain.admission.result import RunResult, StageOutcome, final_stages
from services.results.domain.admission.validation import AdmissionInputError, validate_inputs, validate_returns

_MIN_WINDOW = 64
_MAX_WINDOW = 1 << 16


def dispatch(rows: np.ndarray, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Serial dispatch of ``rows`` (m × k plan positions in dispatch order, negative =
    unusable) into plans with ``quota`` places. Returns each row's plan and slot, -1 if
    none."""
    m, k = rows.shape
    p = quota.size
    plan_out = np.full(m, -1, np.int32)
    slot_out = np.full(m, -1, np.int8)
    if m == 0:
        return plan_out, slot_out
    # Two sentinel plans: ``p + 1`` for unusable slots (never open) and ``p`` in an
    # extra last column (always open, never fills), so every row has a first open slot.
    nowhere, closed = p, p + 1
    padded = np.full((m, k + 1), nowhere, np.int32)
    padded[:, :k] = np.where(rows < 0, closed, rows)
    remaining = np.zeros(p + 2, np.int64)
    remaining[:p] = quota
    remaining[nowhere] = m + 1
    sort_type = np.int16 if p + 2 <= np.iinfo(np.int16).max else np.int32
    window_rows = np.arange(min(m, _MAX_WINDOW))
    start, window = 0, 1024
    while start < m:
        end = min(m, start + window)
        width = end - start
        block = padded[start:end]
        positions = window_rows[:width]
        first = (remaining[block] > 0).argmax(axis=1)
        choice = block[positions, first]
        # Occurrence number of each choice within its plan, in dispatch order.
        by_plan = np.argsort(choice.astype(sort_type), kind="stable")
        sorted_choice = choice[by_plan]
        counts = np.bincount(sorted_choice, minlength=p + 2)
        occurrence = positions - (np.cumsum(counts) - counts)[sorted_choice]
        overflow = occurrence >= remaining[sorted_choice]
        if overflow.any():
            keep = int(by_plan[overflow].min())  # >= 1: the window start always fits
            window = max(_MIN_WINDOW, 2 * keep)
        else:
            keep = width
            window = min(_MAX_WINDOW, 2 * window)
        kept = choice[:keep]
        placed = kept != nowhere
        plan_out[start : start + keep] = np.where(placed, kept, -1)
        slot_out[start : start + keep] = np.where(placed, first[:keep], -1)
        remaining -= np.bincount(kept, minlength=p + 2)
        start += keep
    return plan_out, slot_out


def _lowest(plan: np.ndarray, total: np.ndarray, size: int) -> np.ndarray:
    """Lowest ``total`` per plan (-1 for a plan with none)."""
    lowest = np.full(size, -1, np.int64)
    if plan.size == 0:
        return lowest
    by_plan = np.argsort(plan, kind="stable")
    sorted_plan = plan[by_plan]
    starts = np.flatnonzero(np.r_[True, sorted_plan[1:] != sorted_plan[:-1]])
    lowest[sorted_plan[starts]] = np.minimum.reduceat(total[by_plan], starts)
    return lowest


class _Run:
    def __init__(self, data: EncodedInput, returns: Sequence[Return]) -> None:
        self.data = data
        self.n = data.size
        self.p = len(data.plans)
        self.rank_order = dispatch_order(
            np.vstack([data.total[None, :], data.tie_keys]), data.random_code, data.candidate_ids
        )
        self.rank = np.empty(self.n, np.int64)
        self.rank[self.rank_order] = np.arange(self.n)
        self.admitted = np.zeros(self.n, np.bool_)
        self.returns: dict[tuple[str, Stage], list[Return]] = {}
        for ret in returns:
            self.returns.setdefault((ret.batch, ret.stage), []).append(ret)
        self.index = {cid: i for i, cid in enumerate(data.candidate_ids)} if returns else {}
        self.stages: list[StageOutcome] = []

    def batch_quota(self, batch: BatchConfig, places: np.ndarray) -> np.ndarray:
        in_batch = np.array([b == batch.code for b in self.data.plan_batch], np.bool_)
        quota = np.where(in_batch, -(-places * batch.ratio_percent // 100), 0)
        return quota.astype(np.int64)

    def entry_status(self, batch: BatchConfig, prefs: np.ndarray) -> np.ndarray:
        """Each candidate's status before dispatch: NOT_DISPATCHED for those taking part."""
        data = self.data
        never = np.iinfo(np.int64).max  # a category without a line (validation allows it only if ineligible)
        lines = np.array([never if (v := batch.line_for(c)) is None else v for c in data.categories], np.int64)
        status = np.full(self.n, StageStatus.NOT_DISPATCHED, np.int8)
        status[(prefs == PrefCode.EMPTY).all(axis=1)] = StageStatus.NO_PREFERENCES
        status[data.total < lines[data.category]] = StageStatus.BELOW_LINE
        if batch.jdlk_only:
            status[~data.jdlk] = StageStatus.INELIGIBLE
        status[self.admitted] = StageStatus.ALREADY_ADMITTED
        return status

    def bar_returning_plans(self, rows: np.ndarray, members: np.ndarray, regular: StageOutcome) -> None:
        """In 征集志愿, a candidate returned in the regular stage may not go back to the plan
        that returned them: blank that slot in their (copied) row."""
        returned = np.flatnonzero(regular.status == StageStatus.RETURNED)
        if not (returned.size and members.size):
            return
        at = np.searchsorted(self.rank[members], self.rank[returned])  # members are in rank order
        ok = (at < members.size) & (members[np.minimum(at, members.size - 1)] == returned)
        at, returned = at[ok], returned[ok]
        rows[at] = np.where(rows[at] == regular.plan[returned, None], PrefCode.EMPTY, rows[at])

    def stage(self, batch: BatchConfig, stage: Stage, quota: np.ndarray, regular: StageOutcome | None) -> StageOutcome:
        data = self.data
        prefs = (data.preferences if stage is Stage.REGULAR else data.solicitation)[batch.code]
        status = self.entry_status(batch, prefs)
        members = self.rank_order[status[self.rank_order] == StageStatus.NOT_DISPATCHED]
        rows = prefs[members]  # a copy, in dispatch order
        if regular is not None:
            self.bar_returning_plans(rows, members, regular)
        plan_d, slot_d = dispatch(rows, quota)
        hit = plan_d >= 0
        plan = np.full(self.n, -1, np.int32)
        slot = np.full(self.n, -1, np.int8)
        plan[members[hit]] = plan_d[hit]
        slot[members[hit]] = slot_d[hit]
        status[members[hit]] = StageStatus.DISPATCHED
        dispatched = np.bincount(plan_d[hit], minlength=self.p).astype(np.int64)
        lowest_dispatched = _lowest(plan_d[hit], data.total[members[hit]], self.p)

        reasons: dict[int, str] = {}
        for ret in self.returns.get((batch.code, stage), []):
            i = self.index[ret.candidate_id]
            if status[i] != StageStatus.DISPATCHED:
                raise AdmissionInputError([f"退档 {ret.candidate_id}: 该考生未在 {batch.name} 本轮投档，不能退档"])
            status[i] = StageStatus.RETURNED
            reasons[i] = ret.reason
        returned_idx = np.array(sorted(reasons), np.int64)
        returned_count = np.bincount(plan[returned_idx], minlength=self.p).astype(np.int64)
        if reasons:
            kept = status == StageStatus.DISPATCHED
            lowest_admitted = _lowest(plan[kept], data.total[kept], self.p)
        else:
            lowest_admitted = lowest_dispatched.copy()
        self.admitted |= status == StageStatus.DISPATCHED
        outcome = StageOutcome(
            batch=batch.code,
            stage=stage,
            status=status,
            plan=plan,
            slot=slot,
            quota=quota,
            dispatched=dispatched,
            returned=returned_count,
            lowest_dispatched=lowest_dispatched,
            lowest_admitted=lowest_admitted,
            return_reasons=reasons,
        )
        self.stages.append(outcome)
        return outcome

    def run(self) -> RunResult:
        for batch in self.data.config.batches:
            regular = self.stage(batch, Stage.REGULAR, self.batch_quota(batch, self.data.places), None)
            if batch.solicitation:
                vacancies = np.maximum(self.data.places - regular.admitted, 0)
                self.stage(batch, Stage.SOLICITATION, self.batch_quota(batch, vacancies), regular)
        stages = tuple(self.stages)
        return RunResult(
            candidate_ids=self.data.candidate_ids,
            plans=self.data.plans,
            rank=self.rank,
            stages=stages,
            final_stage=final_stages(stages, self.n),
        )


def run_encoded(data: EncodedInput, returns: Sequence[Return] = ()) -> RunResult:
    """Dispatch every batch of ``data.config`` in order; ``returns`` (退档) are applied
    after the stage they name, and their places go to the batch's 征集志愿."""
    if returns:
        validate_returns(returns, set(data.candidate_ids), data.config)
    return _Run(data, returns).run()


def run_admission(
    candidates: Sequence[Candidate],
    plans: Sequence[PlanEntry],
    config: AdmissionConfig,
    returns: Sequence[Return] = (),
) -> RunResult:
    """Validate, encode and dispatch: the entry point for callers holding objects."""
    validate_inputs(candidates, plans, config, returns)
    return run_encoded(encode(candidates, plans, config, validate=False), returns)
