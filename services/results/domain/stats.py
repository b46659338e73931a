"""Figures for the staff's statistics: score bands of a group of candidates from counted totals.

The published 分数段统计 covers a whole category (`scores.score_bands`); staff of a city or a
registration point see the same bands over their own candidates, counted by the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CountBand:
    low: int
    high: int
    count: int


def bands_from_counts(counts: Mapping[int, int], width: int) -> list[CountBand]:
    """Bands of ``width`` points from the highest occupied band down to the lowest, empty bands
    between them included (as the published bands), from {投档总分: candidates}."""
    occupied = {total: n for total, n in counts.items() if n > 0}
    if not occupied:
        return []
    per_band: dict[int, int] = {}
    for total, n in occupied.items():
        per_band[total // width] = per_band.get(total // width, 0) + n
    top, bottom = max(per_band), min(per_band)
    return [CountBand(k * width, k * width + width - 1, per_band.get(k, 0)) for k in range(top, bottom - 1, -1)]
