"""Parallel-preference dispatch (平行志愿投档): 分数优先、遵循志愿、一次投档.

``run_admission`` (fast, numpy) and ``run_naive`` (plain Python reference) give the same
``RunResult``; ``Explainer`` renders each candidate's result in Chinese.
"""

from services.results.domain.admission.columnar import EncodedInput, encode
from services.results.domain.admission.engine import dispatch, run_admission, run_encoded
from services.results.domain.admission.explain import CandidateOutcome, Explainer, PlanOutcome, plan_outcomes
from services.results.domain.admission.model import (
    DEFAULT_BATCHES,
    LETTERS,
    MAX_PREFERENCES,
    AdmissionConfig,
    BatchConfig,
    Candidate,
    PlanEntry,
    PrefCode,
    Programme,
    Return,
    Stage,
    StageStatus,
)
from services.results.domain.admission.naive import run_naive
from services.results.domain.admission.result import RunResult, StageOutcome, differences
from services.results.domain.admission.validation import AdmissionInputError, derive_random_code, validate_inputs

__all__ = [
    "DEFAULT_BATCHES",
    "LETTERS",
    "MAX_PREFERENCES",
    "AdmissionConfig",
    "AdmissionInputError",
    "BatchConfig",
    "Candidate",
    "CandidateOutcome",
    "EncodedInput",
    "Explainer",
    "PlanEntry",
    "PlanOutcome",
    "PrefCode",
    "Programme",
    "Return",
    "RunResult",
    "Stage",
    "StageOutcome",
    "StageStatus",
    "derive_random_code",
    "differences",
    "dispatch",
    "encode",
    "plan_outcomes",
    "run_admission",
    "run_encoded",
    "run_naive",
    "validate_inputs",
]
