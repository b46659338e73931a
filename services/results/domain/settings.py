"""The province's admission settings and the phases of the admission.

Settings use the same JSON keys as the command line's ``config.json`` (docs/admission-files.md),
so a run's stored settings reproduce it with ``engine_cli``.

A phase is one dispatch round: a batch's regular run, then (if the batch has 征集志愿) its
solicitation run. Phases are published in order; the run of phase k dispatches every batch up
to the phase's batch, and stops before the batch's 征集志愿 when k is the regular phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.results.domain.admission import AdmissionConfig, AdmissionInputError, BatchConfig, Stage
from services.results.domain.admission.model import stage_label
from services.results.domain.admission.validation import validate_config

BATCH_KEYS = ("code", "name", "jdlk_only", "control_lines", "default_line", "ratio_percent", "solicitation")


@dataclass(frozen=True)
class AdmissionSettings:
    config: AdmissionConfig
    random_seed: str = ""


def default_settings(batches: Sequence[tuple[str, str, bool]]) -> AdmissionSettings:
    """Before the province saves settings: the batches as the plan has them (code, name,
    建档立卡 only), in that order, ratio 100%, 征集志愿 on, no control lines yet."""
    config = AdmissionConfig(
        batches=tuple(BatchConfig(code=c, name=n, jdlk_only=p) for c, n, p in batches) or AdmissionConfig().batches,
        tie_break=(),
    )
    return AdmissionSettings(config)


def to_json(settings: AdmissionSettings) -> dict[str, Any]:
    return {
        "batches": [
            {
                "code": b.code,
                "name": b.name,
                "jdlk_only": b.jdlk_only,
                "control_lines": dict(sorted(b.control_lines.items())),
                "default_line": b.default_line,
                "ratio_percent": b.ratio_percent,
                "solicitation": b.solicitation,
            }
            for b in settings.config.batches
        ],
        "tie_break": list(settings.config.tie_break),
        "random_seed": settings.random_seed,
    }


def from_json(data: Mapping[str, Any]) -> AdmissionSettings:
    """The settings stored by ``to_json`` (trusted: written by this service)."""
    batches = tuple(
        BatchConfig(
            code=b["code"],
            name=b["name"],
            jdlk_only=bool(b["jdlk_only"]),
            control_lines=dict(b["control_lines"]),
            default_line=b["default_line"],
            ratio_percent=int(b["ratio_percent"]),
            solicitation=bool(b["solicitation"]),
        )
        for b in data["batches"]
    )
    return AdmissionSettings(AdmissionConfig(batches, tuple(data["tie_break"])), str(data["random_seed"]))


def check(settings: AdmissionSettings, subjects: Sequence[str] | None) -> None:
    """The engine's checks of the config, plus: tie-break names are subjects of the published
    scores (when published), the seed is short text. Raises AdmissionInputError."""
    validate_config(settings.config)
    problems: list[str] = []
    if subjects is not None:
        unknown = [name for name in settings.config.tie_break if name not in subjects]
        if unknown:
            problems.append(
                f"同分排序科目 {'、'.join(unknown)} 不在已发布成绩的科目中（{'、'.join(subjects) or '无科目'}）"
            )
    if len(settings.random_seed) > 100:
        problems.append("随机种子不超过100个字符")
    for batch in settings.config.batches:
        if len(batch.code) > 16 or not batch.code.isascii() or not batch.code.isalnum():
            problems.append(f"批次代码须为不超过16位的字母或数字：{batch.code}")
    if problems:
        raise AdmissionInputError(problems)


def frozen_changes(old: AdmissionSettings, new: AdmissionSettings, published_batches: int) -> list[str]:
    """What a change would alter in already published phases (they must come out the same)."""
    if published_batches == 0:
        return []
    found: list[str] = []
    if old.config.tie_break != new.config.tie_break or old.random_seed != new.random_seed:
        found.append("已发布投档结果后，同分排序规则和随机种子不能修改")
    if new.config.batches[:published_batches] != old.config.batches[:published_batches]:
        names = "、".join(b.name for b in old.config.batches[:published_batches])
        found.append(f"已发布投档结果的批次（{names}）的顺序、控制线、调档比例和征集志愿设置不能修改")
    return found


@dataclass(frozen=True)
class PhaseDef:
    index: int
    batch: BatchConfig
    stage: Stage

    @property
    def label(self) -> str:
        return stage_label(self.batch, self.stage)


def phase_list(config: AdmissionConfig) -> list[PhaseDef]:
    phases: list[PhaseDef] = []
    for batch in config.batches:
        phases.append(PhaseDef(len(phases), batch, Stage.REGULAR))
        if batch.solicitation:
            phases.append(PhaseDef(len(phases), batch, Stage.SOLICITATION))
    return phases


def phase_config(config: AdmissionConfig, phase: PhaseDef) -> AdmissionConfig:
    """The engine config of the run of ``phase``: the batches up to its batch, without the
    batch's 征集志愿 when the phase is its regular run."""
    position = [b.code for b in config.batches].index(phase.batch.code)
    batches = list(config.batches[: position + 1])
    batches[-1] = replace(batches[-1], solicitation=phase.stage is Stage.SOLICITATION)
    return replace(config, batches=tuple(batches))


def stage_phase_indexes(config: AdmissionConfig, run_config: AdmissionConfig) -> list[int]:
    """For each stage a run of ``run_config`` produces (in order), its phase index."""
    by_key = {(p.batch.code, p.stage): p.index for p in phase_list(config)}
    return [
        by_key[(b.code, stage)]
        for b in run_config.batches
        for stage in ((Stage.REGULAR, Stage.SOLICITATION) if b.solicitation else (Stage.REGULAR,))
    ]


def missing_lines(config: AdmissionConfig, categories: Mapping[str, bool]) -> list[str]:
    """Batches without a control line for a category taking part (``categories`` maps each
    category to whether it has a 建档立卡 candidate)."""
    problems = []
    for batch in config.batches:
        for category, has_jdlk in sorted(categories.items()):
            if (has_jdlk or not batch.jdlk_only) and batch.line_for(category) is None:
                problems.append(f"{batch.name}: 未设置 {category} 类控制线")
    return problems


__all__ = [
    "BATCH_KEYS",
    "AdmissionInputError",
    "AdmissionSettings",
    "PhaseDef",
    "check",
    "default_settings",
    "from_json",
    "frozen_changes",
    "missing_lines",
    "phase_config",
    "phase_list",
    "stage_phase_indexes",
    "to_json",
]
