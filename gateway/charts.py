"""Bar charts drawn on the server as inline SVG: no script, no CDN, readable without CSS."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 180
BAR_WIDTH = 360
COUNT_WIDTH = 70


def bar_chart(title: str, rows: Sequence[tuple[str, int]], unit: str = "") -> str:
    """A horizontal bar chart of (label, value) rows as an <svg> element (safe to embed)."""
    peak = max((v for _, v in rows), default=0) or 1
    height = max(len(rows), 1) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + COUNT_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not rows:
        parts.append(f'<text x="0" y="{BAR_HEIGHT - 6}" font-size="13">暂无数据</text>')
    for i, (label, value) in enumerate(rows):
        y = GAP + i * (BAR_HEIGHT + GAP)
        length = round(BAR_WIDTH * value / peak)
        text_y = y + BAR_HEIGHT - 6
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{text_y}" font-size="13" text-anchor="end">{escape(label[:14])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="#2f6fb3"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{text_y}" font-size="13">{value}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
