"""Dispatch order: 投档总分, then the tie-break chain (all descending), then the random
code (ascending), then the candidate number, so the order is total and reproducible.

Fast path: when the score fields fit, they are packed with the top bits of the random
code into one uint64 key and sorted once; the rare equal keys are then settled on the
full random code and candidate number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _descending_bits(keys: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
    """Each key as a non-negative offset where smaller sorts first, with its bit width."""
    parts: list[np.ndarray] = []
    widths: list[int] = []
    for key in keys:
        top = int(key.max())
        parts.append((top - key).astype(np.uint64))
        widths.append((top - int(key.min())).bit_length())
    return parts, widths


def dispatch_order(
    keys: np.ndarray,
    random_code: np.ndarray,
    candidate_ids: Sequence[str],
) -> np.ndarray:
    """Candidate positions, best first. ``keys`` (k × n, int64) rank descending, the first
    key (投档总分) most significant."""
    n = random_code.size
    if n == 0:
        return np.empty(0, np.int64)
    parts, widths = _descending_bits(keys)
    primary_bits = sum(widths)
    if primary_bits <= 64:
        spare = np.uint64(64 - primary_bits)
        packed = np.zeros(n, np.uint64)
        for part, width in zip(parts, widths, strict=True):
            packed = (packed << np.uint64(width)) | part
        if spare == 64:
            packed = random_code.copy()
        elif spare:
            packed = (packed << spare) | (random_code >> np.uint64(64 - int(spare)))
        order = np.argsort(packed)
        return _settle_ties(order, [packed], random_code, candidate_ids)
    order = np.lexsort((random_code, *reversed(parts)))
    return _settle_ties(order, parts, random_code, candidate_ids)


def _equal_neighbours(order: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """Mask over sorted positions of those equal to a neighbour on every column."""
    same = np.ones(order.size - 1, np.bool_)
    for column in columns:
        sorted_column = column[order]
        same &= sorted_column[1:] == sorted_column[:-1]
    mask = np.zeros(order.size, np.bool_)
    mask[1:] |= same
    mask[:-1] |= same
    return mask


def _settle_ties(
    order: np.ndarray,
    columns: list[np.ndarray],
    random_code: np.ndarray,
    candidate_ids: Sequence[str],
) -> np.ndarray:
    tied = np.flatnonzero(_equal_neighbours(order, columns))
    if tied.size == 0:
        return order
    # Tied runs are contiguous in ``order``: re-sorting the tied members on
    # (columns..., full random code) keeps every run in its place.
    members = order[tied]
    sub_keys = [random_code[members], *(c[members] for c in reversed(columns))]
    order[tied] = members[np.lexsort(sub_keys)]
    exact = np.flatnonzero(_equal_neighbours(order, [*columns, random_code]))
    if exact.size:  # 64-bit code collision: settle on the candidate number
        members = order[exact]
        order[exact] = sorted(
            members.tolist(),
            key=lambda i: (*(int(c[i]) for c in columns), int(random_code[i]), candidate_ids[i]),
        )
    return order
