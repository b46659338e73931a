"""The inputs of an admission run, read from the database straight into the engine's arrays.

No ``Candidate`` object is built: a million candidates would cost seconds of CPU in objects
alone. Scores, preferences and 征集志愿 are integer columns keyed by the candidate's surrogate
id; preferences hold programme ids, resolved to plan positions with one table lookup per
(batch, category) — the same resolution ``encode`` does per object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.results.adapters.bulk import fetch_tuples
from services.results.adapters.tables import (
    SLOTS,
    SUBJECT_COLUMNS,
    candidates,
    plan_lines,
    plan_state,
    preferences,
    programmes,
    published_scores,
    returns,
    solicitations,
)
from services.results.domain.admission import (
    MAX_PREFERENCES,
    AdmissionConfig,
    AdmissionInputError,
    EncodedInput,
    PlanEntry,
    PrefCode,
    Return,
    Stage,
    derive_random_code,
)
from services.results.domain.settings import AdmissionSettings, PhaseDef, check, missing_lines, phase_config
from zsb.common.errors import FailedPrecondition


@dataclass(frozen=True)
class RunInputs:
    phase: PhaseDef
    config: AdmissionConfig  # the phase's engine config
    publication: int
    plan_version: int
    candidate_ids: np.ndarray  # surrogate ids, ascending: the run's candidate order
    programme_ids: tuple[int, ...]  # per plan position
    data: EncodedInput
    returns: tuple[Return, ...]


def load_inputs(session: Session, settings: AdmissionSettings, phase: PhaseDef, publication) -> RunInputs:
    subjects = list(json.loads(publication.subjects_json))
    check(settings, subjects)
    config = phase_config(settings.config, phase)
    codes = [b.code for b in config.batches]

    plan_rows = session.execute(
        select(
            plan_lines.c.batch_code,
            plan_lines.c.programme_id,
            plan_lines.c.major_category,
            plan_lines.c.places,
            programmes.c.institution_code,
            programmes.c.major_code,
            programmes.c.institution_name,
            programmes.c.major_name,
        )
        .join(programmes, programmes.c.id == plan_lines.c.programme_id)
        .where(plan_lines.c.batch_code.in_(codes))
        .order_by(programmes.c.institution_code, programmes.c.major_code, plan_lines.c.major_category)
    ).all()
    plan_rows.sort(key=lambda r: codes.index(r.batch_code))  # stable: batch order, then codes
    if not plan_rows:
        raise FailedPrecondition("尚未收到本阶段批次的招生计划", reason="NO_PLAN")
    plan_version = session.execute(select(plan_state.c.version).where(plan_state.c.id == 1)).scalar() or 0
    plans = tuple(
        PlanEntry(
            r.batch_code,
            r.institution_code,
            r.major_code,
            r.major_category,
            int(r.places),
            r.institution_name,
            r.major_name,
        )
        for r in plan_rows
    )

    tie_columns = [published_scores.c[SUBJECT_COLUMNS[subjects.index(name)]] for name in config.tie_break]
    rows = fetch_tuples(
        session,
        select(
            published_scores.c.candidate_id,
            candidates.c.candidate_no,
            published_scores.c.major_category,
            published_scores.c.jdlk,
            published_scores.c.admission_total,
            *tie_columns,
        )
        .join(candidates, candidates.c.id == published_scores.c.candidate_id)
        # The publication's snapshot decides who takes part (it left out those who had abandoned),
        # so every phase runs on the same candidates.
        .where(published_scores.c.publication_id == publication.id)
        .order_by(published_scores.c.candidate_id),
    )
    n = len(rows)
    if n == 0:
        raise FailedPrecondition("没有可参加投档的考生", reason="NO_CANDIDATES")
    columns = list(zip(*rows, strict=True))
    del rows
    ids = np.fromiter(columns[0], np.int64, n)
    numbers: tuple[str, ...] = columns[1]
    names, category = np.unique(np.array(columns[2], dtype=object).astype(str), return_inverse=True)
    category = category.astype(np.int32)
    jdlk = np.fromiter(columns[3], np.bool_, n)
    total = np.fromiter(columns[4], np.int64, n)
    tie_keys = np.array([[0 if v is None else v for v in column] for column in columns[5:]], np.int64).reshape(
        len(tie_columns), n
    )
    has_jdlk = np.bincount(category, weights=jdlk, minlength=len(names)) > 0
    problems = missing_lines(config, dict(zip(names.tolist(), has_jdlk.tolist(), strict=True)))
    if problems:
        raise AdmissionInputError(problems)
    seed = settings.random_seed
    random_code = np.fromiter((derive_random_code(seed, no) for no in numbers), np.uint64, n)

    category_index = {c: k for k, c in enumerate(names.tolist())}
    lookups = {code: _lookup(code, plans, plan_rows, category_index) for code in codes}
    prefs = {code: _matrix(session, preferences, code, ids, category, lookups[code]) for code in codes}
    solicit = {
        b.code: _matrix(session, solicitations, b.code, ids, category, lookups[b.code]) if b.solicitation else _empty(n)
        for b in config.batches
    }
    data = EncodedInput(
        config=config,
        candidate_ids=tuple(numbers),
        categories=tuple(names.tolist()),
        category=category,
        total=total,
        jdlk=jdlk,
        tie_keys=tie_keys,
        random_code=random_code,
        preferences=prefs,
        solicitation=solicit,
        plans=plans,
        places=np.array([p.places for p in plans], np.int64),
        plan_batch=tuple(p.batch for p in plans),
    )
    return RunInputs(
        phase=phase,
        config=config,
        publication=int(publication.id),
        plan_version=int(plan_version),
        candidate_ids=ids,
        programme_ids=tuple(int(r.programme_id) for r in plan_rows),
        data=data,
        returns=_returns(session, phase),
    )


def _empty(n: int) -> np.ndarray:
    return np.full((n, MAX_PREFERENCES), PrefCode.EMPTY, np.int32)


def _lookup(batch: str, plans: tuple[PlanEntry, ...], plan_rows: list, category_index: dict[str, int]) -> np.ndarray:
    """(category × programme id) -> plan position, or a negative PrefCode; column 0 is the
    empty slot and the last column stands for any programme id not in this batch's plan."""
    in_batch = [(j, row) for j, row in enumerate(plan_rows) if plans[j].batch == batch]
    top = max((int(row.programme_id) for _, row in in_batch), default=0)
    table = np.full((max(len(category_index), 1), top + 2), PrefCode.NO_PROGRAMME, np.int32)
    for j, row in in_batch:
        table[:, row.programme_id] = np.where(
            table[:, row.programme_id] == PrefCode.NO_PROGRAMME, PrefCode.WRONG_CATEGORY, table[:, row.programme_id]
        )
        k = category_index.get(row.major_category)
        if k is not None:
            table[k, row.programme_id] = j
    table[:, 0] = PrefCode.EMPTY
    return table


def _matrix(session: Session, table, batch: str, ids: np.ndarray, category: np.ndarray, lookup: np.ndarray):
    """The batch's preference (or 征集志愿) matrix of the run's candidates, n × 8 plan positions."""
    slot_columns = [table.c[f"slot_{s}"] for s in SLOTS]
    query = select(table.c.candidate_id, *slot_columns).where(table.c.batch_code == batch)
    if "withdrawn" in table.c:
        query = query.where(table.c.withdrawn.is_(False))
    rows = fetch_tuples(session, query)
    out = _empty(ids.size)
    if not rows:
        return out
    width = 1 + len(SLOTS)
    raw = np.fromiter(chain.from_iterable(rows), np.int64, len(rows) * width).reshape(len(rows), width)
    del rows
    owners, programme = raw[:, 0], raw[:, 1:]
    at = np.searchsorted(ids, owners)
    known = (at < ids.size) & (ids[np.minimum(at, ids.size - 1)] == owners)
    at, programme = at[known], programme[known]
    programme = np.where((programme < 0) | (programme >= lookup.shape[1]), lookup.shape[1] - 1, programme)
    out[at] = lookup[category[at][:, None], programme]
    return out


def _returns(session: Session, phase: PhaseDef) -> tuple[Return, ...]:
    rows = session.execute(
        select(candidates.c.candidate_no, returns.c.batch_code, returns.c.stage, returns.c.reason)
        .join(candidates, candidates.c.id == returns.c.candidate_id)
        .where(returns.c.phase_index < phase.index)
        .order_by(returns.c.id)
    ).all()
    return tuple(Return(r.candidate_no, r.batch_code, r.reason, Stage(r.stage)) for r in rows)
