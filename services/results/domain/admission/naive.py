"""Reference dispatch in plain Python: one candidate at a time, one place at a time.

It reads the objects directly (no encoding), so it checks the fast engine end to end in
the property tests and serves as the benchmark baseline. Keep it obvious, not fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.results.domain.admission.model import (
    AdmissionConfig,
    BatchConfig,
    Candidate,
    PlanEntry,
    Return,
    Stage,
    StageStatus,
)
from services.results.domain.admission.result import RunResult, StageOutcome, final_stages
from services.results.domain.admission.validation import AdmissionInputError, validate_inputs


def run_naive(
    candidates: Sequence[Candidate],
    plans: Sequence[PlanEntry],
    config: AdmissionConfig,
    returns: Sequence[Return] = (),
    *,
    validate: bool = True,
) -> RunResult:
    """``validate=False`` skips the input checks (for timing the algorithm alone)."""
    if validate:
        validate_inputs(candidates, plans, config, returns)
    return _NaiveRun(candidates, plans, config, returns).run()


class _NaiveRun:
    def __init__(
        self,
        candidates: Sequence[Candidate],
        plans: Sequence[PlanEntry],
        config: AdmissionConfig,
        returns: Sequence[Return],
    ) -> None:
        self.candidates = candidates
        self.plans = plans
        self.config = config
        self.returns = returns
        self.plan_of_key = {(p.batch, p.institution, p.major, p.category): j for j, p in enumerate(plans)}
        self.index_of = {c.candidate_id: i for i, c in enumerate(candidates)}
        self.admitted = [False] * len(candidates)

        def sort_key(i: int) -> tuple:
            c = candidates[i]
            return (-c.total, *(-c.tie_break[name] for name in config.tie_break), c.random_code, c.candidate_id)

        self.order = sorted(range(len(candidates)), key=sort_key)

    def run(self) -> RunResult:
        n = len(self.candidates)
        rank = [0] * n
        for position, i in enumerate(self.order):
            rank[i] = position
        stages: list[StageOutcome] = []
        for batch in self.config.batches:
            quota = [batch.quota(p.places) if p.batch == batch.code else 0 for p in self.plans]
            regular, returned_from = self.stage(batch, Stage.REGULAR, quota, {})
            stages.append(regular)
            if batch.solicitation:
                quota = [
                    batch.quota(max(p.places - int(regular.admitted[j]), 0)) if p.batch == batch.code else 0
                    for j, p in enumerate(self.plans)
                ]
                stages.append(self.stage(batch, Stage.SOLICITATION, quota, returned_from)[0])
        outcome = tuple(stages)
        return RunResult(
            candidate_ids=tuple(c.candidate_id for c in self.candidates),
            plans=tuple(self.plans),
            rank=np.array(rank, np.int64),
            stages=outcome,
            final_stage=final_stages(outcome, n),
        )

    def stage(
        self, batch: BatchConfig, stage: Stage, quota: list[int], returned_from: dict[int, int]
    ) -> tuple[StageOutcome, dict[int, int]]:
        """Dispatch one stage. ``returned_from`` (candidate -> plan that returned them in
        this batch's regular run) is both a bar here and, for the regular run, returned."""
        n, p = len(self.candidates), len(self.plans)
        dispatched_, returned_ = StageStatus.DISPATCHED, StageStatus.RETURNED  # hoisted: enum lookups are slow
        remaining = list(quota)
        status = [StageStatus.NOT_DISPATCHED] * n
        plan_of = [-1] * n
        slot_of = [-1] * n
        for i in self.order:
            cand = self.candidates[i]
            slots = (cand.preferences if stage is Stage.REGULAR else cand.solicitation).get(batch.code, ())
            line = batch.line_for(cand.category)
            if self.admitted[i]:
                status[i] = StageStatus.ALREADY_ADMITTED
            elif batch.jdlk_only and not cand.jdlk:
                status[i] = StageStatus.INELIGIBLE
            elif line is None or cand.total < line:
                status[i] = StageStatus.BELOW_LINE
            elif all(s is None for s in slots):
                status[i] = StageStatus.NO_PREFERENCES
            else:
                for k, programme in enumerate(slots):
                    if programme is None:
                        continue
                    j = self.plan_of_key.get((batch.code, programme[0], programme[1], cand.category))
                    if j is None or returned_from.get(i) == j:
                        continue
                    if remaining[j] > 0:
                        remaining[j] -= 1
                        status[i], plan_of[i], slot_of[i] = dispatched_, j, k
                        break

        reasons: dict[int, str] = {}
        for ret in self.returns:
            if ret.batch != batch.code or ret.stage != stage:
                continue
            i = self.index_of[ret.candidate_id]
            if status[i] != dispatched_:
                raise AdmissionInputError([f"退档 {ret.candidate_id}: 该考生未在 {batch.name} 本轮投档，不能退档"])
            status[i] = returned_
            reasons[i] = ret.reason

        dispatched, returned = [0] * p, [0] * p
        lowest_dispatched, lowest_admitted = [-1] * p, [-1] * p
        for i in range(n):
            if status[i] is not dispatched_ and status[i] is not returned_:
                continue
            j, total = plan_of[i], self.candidates[i].total
            dispatched[j] += 1
            if lowest_dispatched[j] < 0 or total < lowest_dispatched[j]:
                lowest_dispatched[j] = total
            if status[i] is returned_:
                returned[j] += 1
            else:
                self.admitted[i] = True
                if lowest_admitted[j] < 0 or total < lowest_admitted[j]:
                    lowest_admitted[j] = total

        outcome = StageOutcome(
            batch=batch.code,
            stage=stage,
            status=np.array(status, np.int8),
            plan=np.array(plan_of, np.int32),
            slot=np.array(slot_of, np.int8),
            quota=np.array(quota, np.int64),
            dispatched=np.array(dispatched, np.int64),
            returned=np.array(returned, np.int64),
            lowest_dispatched=np.array(lowest_dispatched, np.int64),
            lowest_admitted=np.array(lowest_admitted, np.int64),
            return_reasons=reasons,
        )
        return outcome, {i: plan_of[i] for i in reasons}
