"""Inputs, settings and outcome codes of the parallel-preference dispatch (平行志愿投档).

The engine works on integer points (考试成绩与加分均为整数分). A preference names an
institution-major ``(院校代码, 专业代码)``; it resolves, within its batch, to the plan
entry of the candidate's own category, so a plan only admits candidates of its category.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

MAX_PREFERENCES = 8
LETTERS = "ABCDEFGH"
MIN_RATIO_PERCENT = 100
MAX_RATIO_PERCENT = 120
RANDOM_CODE_LIMIT = 1 << 64

Programme = tuple[str, str]
"""An institution-major: (院校代码, 专业代码)."""


class Stage(StrEnum):
    """The two dispatch rounds of a batch: the regular run and the 征集志愿 run."""

    REGULAR = "regular"
    SOLICITATION = "solicitation"


class StageStatus(IntEnum):
    """What happened to one candidate in one stage (stored as int8 per candidate)."""

    ALREADY_ADMITTED = 0  # dispatched in an earlier batch or stage and not returned
    INELIGIBLE = 1  # may not take part in the batch (e.g. 建档立卡专项批 for others)
    BELOW_LINE = 2  # 投档总分 below the batch's control line for the category
    NO_PREFERENCES = 3  # eligible, but filled no preference for this stage
    NOT_DISPATCHED = 4  # every filled preference was full or invalid at their turn
    DISPATCHED = 5
    RETURNED = 6  # dispatched, then returned (退档) by the institution


class PrefCode(IntEnum):
    """Negative plan indices in the encoded preference matrices."""

    EMPTY = -1  # slot not filled
    NO_PROGRAMME = -2  # no such institution-major in the batch
    WRONG_CATEGORY = -3  # the institution-major has no plan for the candidate's category


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate as the engine sees them.

    ``tie_break`` holds the fields named in ``AdmissionConfig.tie_break`` (e.g. 专业课);
    ``random_code`` is the candidate's reproducible random code, the last tie-break
    before the candidate number (see ``derive_random_code``).
    ``preferences`` and ``solicitation`` map a batch code to the slots A..H, ``None``
    for an empty slot.
    """

    candidate_id: str
    category: str
    score: int
    bonus: int = 0
    jdlk: bool = False
    random_code: int = 0
    tie_break: Mapping[str, int] = field(default_factory=dict)
    preferences: Mapping[str, tuple[Programme | None, ...]] = field(default_factory=dict)
    solicitation: Mapping[str, tuple[Programme | None, ...]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """投档总分: exam score plus granted bonus."""
        return self.score + self.bonus


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """Places of one institution-major for one category in one batch (招生计划)."""

    batch: str
    institution: str
    major: str
    category: str
    places: int
    institution_name: str = ""
    major_name: str = ""

    @property
    def programme(self) -> Programme:
        return (self.institution, self.major)

    @property
    def label(self) -> str:
        """Human-readable name used in explanations."""
        inst = f"{self.institution} {self.institution_name}".strip()
        major = f"{self.major} {self.major_name}".strip()
        return f"{inst} {major}"


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """One batch (批次) as the province sets it.

    ``control_lines`` maps a category to its minimum 投档总分 (a candidate qualifies at
    or above it); ``default_line`` applies to categories not listed, ``None`` meaning a
    missing line is an input error. Dispatch places per plan = ceil(places × ratio%).
    """

    code: str
    name: str
    jdlk_only: bool = False
    control_lines: Mapping[str, int] = field(default_factory=dict)
    default_line: int | None = None
    ratio_percent: int = 100
    solicitation: bool = True

    def line_for(self, category: str) -> int | None:
        return self.control_lines.get(category, self.default_line)

    def quota(self, places: int) -> int:
        """Places open for dispatch under the 调档比例: ceil(places × ratio / 100)."""
        return -(-places * self.ratio_percent // 100)


DEFAULT_BATCHES: tuple[BatchConfig, ...] = (
    BatchConfig(code="jdlk", name="建档立卡专项批本科", jdlk_only=True, default_line=0),
    BatchConfig(code="ordinary", name="普通批本科", default_line=0),
)


@dataclass(frozen=True, slots=True)
class AdmissionConfig:
    """Batch order and the tie-break chain (each field compared descending)."""

    batches: tuple[BatchConfig, ...] = DEFAULT_BATCHES
    tie_break: tuple[str, ...] = ()

    def batch(self, code: str) -> BatchConfig:
        for batch in self.batches:
            if batch.code == code:
                return batch
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class Return:
    """An institution returns (退档) a candidate dispatched to it in a batch stage."""

    candidate_id: str
    batch: str
    reason: str
    stage: Stage = Stage.REGULAR


def stage_label(batch: BatchConfig, stage: Stage) -> str:
    return batch.name if stage is Stage.REGULAR else f"{batch.name}征集志愿"


def slot_label(stage: Stage, slot: int) -> str:
    return f"{'平行志愿' if stage is Stage.REGULAR else '征集志愿'}{LETTERS[slot]}"
