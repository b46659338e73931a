"""Column (array) form of the dispatch inputs, which the fast engine runs on.

Encoding resolves every preference slot to a plan position once (or to a negative
``PrefCode``), so the dispatch itself never touches a Python object per candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.results.domain.admission.model import (
    MAX_PREFERENCES,
    AdmissionConfig,
    Candidate,
    PlanEntry,
    PrefCode,
    Programme,
)
from services.results.domain.admission.validation import validate_inputs


@dataclass(frozen=True, eq=False, slots=True)
class EncodedInput:
    """Candidates and plans of one run as arrays (candidate and plan input order kept).

    ``preferences``/``solicitation`` map a batch code to an int32 matrix (n × 8) of plan
    positions, negative for an empty or unusable slot (``PrefCode``).
    """

    config: AdmissionConfig
    candidate_ids: tuple[str, ...]
    categories: tuple[str, ...]
    category: np.ndarray  # int32 index into ``categories``
    total: np.ndarray  # int64 投档总分
    jdlk: np.ndarray  # bool
    tie_keys: np.ndarray  # int64 (len(tie_break) × n), compared descending
    random_code: np.ndarray  # uint64
    preferences: Mapping[str, np.ndarray]
    solicitation: Mapping[str, np.ndarray]
    plans: tuple[PlanEntry, ...]
    places: np.ndarray  # int64 per plan
    plan_batch: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.candidate_ids)


class _Resolver(dict):
    """Programme -> plan position (or negative ``PrefCode``) for one batch and category,
    filled on first use; ``None`` (an empty slot) maps to EMPTY."""

    def __init__(
        self,
        batch: str,
        category: str,
        plan_index: dict[tuple[str, str, str, str], int],
        programmes: set[tuple[str, str, str]],
    ) -> None:
        super().__init__({None: PrefCode.EMPTY.value})
        self.batch, self.category = batch, category
        self.plan_index, self.programmes = plan_index, programmes

    def __missing__(self, programme: Programme) -> int:
        code = self.plan_index.get((self.batch, *programme, self.category))
        if code is None:
            in_batch = (self.batch, *programme) in self.programmes
            code = PrefCode.WRONG_CATEGORY.value if in_batch else PrefCode.NO_PROGRAMME.value
        self[programme] = code
        return code


def encode(
    candidates: Sequence[Candidate],
    plans: Sequence[PlanEntry],
    config: AdmissionConfig,
    *,
    validate: bool = True,
) -> EncodedInput:
    """Validate (unless the caller just did) and turn the inputs into arrays."""
    if validate:
        validate_inputs(candidates, plans, config)
    n = len(candidates)
    plan_index = {(p.batch, p.institution, p.major, p.category): j for j, p in enumerate(plans)}
    programmes = {(p.batch, p.institution, p.major) for p in plans}
    batch_codes = [b.code for b in config.batches]

    categories: dict[str, int] = {}
    category: list[int] = []
    tie_keys: list[list[int]] = [[] for _ in config.tie_break]
    flat_prefs: dict[str, list[int]] = {b: [] for b in batch_codes}
    flat_solicit: dict[str, list[int]] = {b: [] for b in batch_codes}
    empty_row = [PrefCode.EMPTY.value] * MAX_PREFERENCES
    padding = [empty_row[k:] for k in range(MAX_PREFERENCES + 1)]
    resolvers: dict[tuple[str, str], _Resolver] = {}

    def resolver(batch: str, cat: str) -> _Resolver:
        found = resolvers.get((batch, cat))
        if found is None:
            found = resolvers[(batch, cat)] = _Resolver(batch, cat, plan_index, programmes)
        return found

    # Python lists first: filling numpy arrays one element at a time is far slower.
    for cand in candidates:
        cat = cand.category
        category.append(categories.setdefault(cat, len(categories)))
        for keys, name in zip(tie_keys, config.tie_break, strict=True):
            keys.append(cand.tie_break[name])
        for batch in batch_codes:
            for lists, flat in ((cand.preferences, flat_prefs[batch]), (cand.solicitation, flat_solicit[batch])):
                slots = lists.get(batch)
                if slots:
                    lookup = resolver(batch, cat)
                    flat.extend([lookup[s] for s in slots])
                    flat.extend(padding[len(slots)])
                else:
                    flat.extend(empty_row)

    def matrix(flat: list[int]) -> np.ndarray:
        return np.array(flat, np.int32).reshape(n, MAX_PREFERENCES)

    return EncodedInput(
        config=config,
        candidate_ids=tuple(c.candidate_id for c in candidates),
        categories=tuple(categories),
        category=np.array(category, np.int32),
        total=np.array([c.score + c.bonus for c in candidates], np.int64),
        jdlk=np.array([c.jdlk for c in candidates], np.bool_),
        tie_keys=np.array(tie_keys, np.int64).reshape(len(config.tie_break), n),
        random_code=np.array([c.random_code for c in candidates], np.uint64),
        preferences={b: matrix(flat_prefs[b]) for b in batch_codes},
        solicitation={b: matrix(flat_solicit[b]) for b in batch_codes},
        plans=tuple(plans),
        places=np.array([p.places for p in plans], np.int64),
        plan_batch=tuple(p.batch for p in plans),
    )
