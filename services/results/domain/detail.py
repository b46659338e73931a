"""A run's per-candidate arrays in chunks, and one candidate's explanation from them.

Explanations are not stored as text (about 130 characters for each of a million candidates
per run): a run stores the arrays the ``Explainer`` reads, in compressed chunks of candidates,
and one candidate's explanation is rendered on demand by the engine's own ``Explainer`` on a
one-candidate view of the run. The text is therefore exactly what the engine says.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.results.domain.admission import (
    AdmissionConfig,
    EncodedInput,
    Explainer,
    PlanEntry,
    RunResult,
    Stage,
    StageOutcome,
)

CHUNK_SIZE = 32_768
_FIELDS = ("ids", "category", "total", "jdlk", "rank", "final", "status", "plan", "slot", "prefs", "solicit")


@dataclass(frozen=True)
class Chunk:
    """Candidates ``start .. start + len(ids)`` of a run (their positions in the run's arrays).

    ``status``/``plan``/``slot`` are (stages × m); ``prefs``/``solicit`` (batches × m × 8) in the
    order of the run's batches.
    """

    ids: np.ndarray
    category: np.ndarray
    total: np.ndarray
    jdlk: np.ndarray
    rank: np.ndarray
    final: np.ndarray
    status: np.ndarray
    plan: np.ndarray
    slot: np.ndarray
    prefs: np.ndarray
    solicit: np.ndarray


def encode_chunks(
    candidate_ids: np.ndarray, data: EncodedInput, result: RunResult, size: int = CHUNK_SIZE
) -> list[bytes]:
    """The run's arrays cut into compressed chunks of ``size`` candidates."""
    codes = [b.code for b in data.config.batches]
    status = np.stack([s.status for s in result.stages]) if result.stages else np.zeros((0, data.size), np.int8)
    plan = np.stack([s.plan for s in result.stages]) if result.stages else np.zeros((0, data.size), np.int32)
    slot = np.stack([s.slot for s in result.stages]) if result.stages else np.zeros((0, data.size), np.int8)
    prefs = np.stack([data.preferences[c] for c in codes])
    solicit = np.stack([data.solicitation[c] for c in codes])
    out = []
    for start in range(0, data.size, size):
        end = min(start + size, data.size)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            ids=candidate_ids[start:end],
            category=data.category[start:end],
            total=data.total[start:end],
            jdlk=data.jdlk[start:end],
            rank=result.rank[start:end],
            final=result.final_stage[start:end],
            status=status[:, start:end],
            plan=plan[:, start:end],
            slot=slot[:, start:end],
            prefs=prefs[:, start:end],
            solicit=solicit[:, start:end],
        )
        out.append(zlib.compress(buffer.getvalue(), 1))
    return out


def decode_chunk(blob: bytes) -> Chunk:
    with np.load(io.BytesIO(zlib.decompress(blob))) as arrays:
        return Chunk(**{name: arrays[name] for name in _FIELDS})


@dataclass(frozen=True)
class StagePlans:
    """Per-plan figures of one stage of a run (arrays over the run's plans)."""

    quota: np.ndarray
    dispatched: np.ndarray
    returned: np.ndarray
    lowest_dispatched: np.ndarray
    lowest_admitted: np.ndarray


def stage_keys(config: AdmissionConfig) -> list[tuple[str, Stage]]:
    """(batch, stage) of each stage a run of ``config`` produces, in order."""
    return [
        (b.code, stage)
        for b in config.batches
        for stage in ((Stage.REGULAR, Stage.SOLICITATION) if b.solicitation else (Stage.REGULAR,))
    ]


def explain_one(
    config: AdmissionConfig,
    categories: Sequence[str],
    plans: Sequence[PlanEntry],
    stage_plans: Sequence[StagePlans],
    chunk: Chunk,
    offset: int,
    candidate_no: str,
    return_reasons: Mapping[int, str],
) -> str:
    """The engine's explanation of the candidate at ``offset`` of ``chunk``; ``return_reasons``
    maps a stage index to the reason of the candidate's 退档 in that stage."""
    codes = [b.code for b in config.batches]
    i = slice(offset, offset + 1)
    data = EncodedInput(
        config=config,
        candidate_ids=(candidate_no,),
        categories=tuple(categories),
        category=chunk.category[i].astype(np.int32),
        total=chunk.total[i].astype(np.int64),
        jdlk=chunk.jdlk[i].astype(np.bool_),
        tie_keys=np.zeros((len(config.tie_break), 1), np.int64),
        random_code=np.zeros(1, np.uint64),
        preferences={c: chunk.prefs[k, i] for k, c in enumerate(codes)},
        solicitation={c: chunk.solicit[k, i] for k, c in enumerate(codes)},
        plans=tuple(plans),
        places=np.array([p.places for p in plans], np.int64),
        plan_batch=tuple(p.batch for p in plans),
    )
    stages = tuple(
        StageOutcome(
            batch=batch,
            stage=stage,
            status=chunk.status[k, i],
            plan=chunk.plan[k, i],
            slot=chunk.slot[k, i],
            quota=figures.quota,
            dispatched=figures.dispatched,
            returned=figures.returned,
            lowest_dispatched=figures.lowest_dispatched,
            lowest_admitted=figures.lowest_admitted,
            return_reasons={0: return_reasons[k]} if k in return_reasons else {},
        )
        for k, ((batch, stage), figures) in enumerate(zip(stage_keys(config), stage_plans, strict=True))
    )
    result = RunResult(
        candidate_ids=(candidate_no,),
        plans=tuple(plans),
        rank=chunk.rank[i].astype(np.int64),
        stages=stages,
        final_stage=chunk.final[i].astype(np.int8),
    )
    return Explainer(data, result).explain(0)
