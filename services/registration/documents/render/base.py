"""The printed page: fonts, a bordered grid of cells, the photo box, the QR code (fpdf2, A4, mm).

Fonts are Debian packages registered by path. The regular font is TrueType (WenQuanYi Micro
Hei): every PDF reader, pypdf included, maps its text back to Unicode. Noto Sans CJK (OpenType
with CFF outlines) is only the fallback for characters the regular font lacks: fpdf2 embeds CFF
fonts with a custom encoding CMap that some extractors (pypdf) decode wrongly. Bold is drawn by
filling and stroking the outline, so no second font has to be parsed for every document.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import segno
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TextMode, XPos, YPos
from PIL import Image, ImageOps, UnidentifiedImageError

from services.registration.documents.config import DocumentsConfig

log = logging.getLogger(__name__)

FAMILY = "cjk"
FALLBACK = "cjkfallback"
PAGE_WIDTH = 210.0
MARGIN = 15.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
LABEL_FILL = (238, 238, 238)
CELL_PAD = 1.5  # mm between a cell's border and its text
PHOTO_W, PHOTO_H = 26.0, 35.0  # a one-inch ID photo (25 x 35 mm) with a little room
_PHOTO_MAX_PIXELS = 4000 * 4000
# Punctuation that must not begin a line (it hangs at the end of the previous one).
NO_LINE_START = frozenset("。，、；：！？）》」』”’％…—,.;:!?)]}%")
_WORD_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_/@.:"


class FontMissing(RuntimeError):
    """The CJK font file is not where the settings say: an installation problem, not a user error."""


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int

    def check(self, setting: str) -> Path:
        path = Path(self.path)
        if not path.is_file():
            raise FontMissing(
                f"CJK font not found at {self.path}: install the Debian package "
                f"(deploy/local/system-packages.sh: fonts-wqy-microhei, fonts-noto-cjk) or set {setting}"
            )
        return path


_coverage: dict[FontFile, frozenset[int]] = {}
_coverage_lock = threading.Lock()


def coverage(font: FontFile) -> frozenset[int]:
    """The code points a font has glyphs for (read once per process)."""
    with _coverage_lock:
        found = _coverage.get(font)
        if found is None:
            with TTFont(font.path, fontNumber=font.index, lazy=True) as ttf:
                found = frozenset(ttf.getBestCmap())
            _coverage[font] = found
        return found


class FontBook:
    """The fonts of the documents, from the settings."""

    def __init__(self, config: DocumentsConfig) -> None:
        self.regular = FontFile(config.font_regular, config.font_regular_index)
        self.fallback = FontFile(config.font_fallback, config.font_fallback_index) if config.font_fallback else None

    def document(self, texts: Iterable[str]) -> Sheet:
        """A new A4 document; the fallback font is loaded only when `texts` need it."""
        regular = self.regular.check("DOCUMENTS_FONT_REGULAR")
        missing = {ord(c) for text in texts for c in text if not c.isspace()} - coverage(self.regular)
        sheet = Sheet()
        sheet.add_font(FAMILY, "", str(regular), collection_font_number=self.regular.index)
        if missing and self.fallback is not None:
            sheet.add_font(
                FALLBACK,
                "",
                str(self.fallback.check("DOCUMENTS_FONT_FALLBACK")),
                collection_font_number=self.fallback.index,
            )
            sheet.set_fallback_fonts([FALLBACK], exact_match=False)
        elif missing:
            log.warning("characters without a glyph in the document font", extra={"count": len(missing)})
        sheet.set_font(FAMILY, size=10.5)
        return sheet


@dataclass(frozen=True)
class Cell:
    text: str
    width: float
    label: bool = False  # a field name: shaded, centred
    align: str = ""  # L, C or R; default: labels centred, values left
    size: float = 0  # font size in pt; 0: the sheet's


class Sheet(FPDF):
    """An A4 page in mm with the helpers the forms share."""

    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN)
        self.set_creator("山西省普通高校专升本选拔考试网上报名系统")
        self.set_line_width(0.3)
        self.c_margin = CELL_PAD

    # --- text ------------------------------------------------------------------------------

    def bold_text(self, stroke: float = 0.18):
        """Bold by stroking the glyphs' outline as well as filling it."""
        return self.local_context(text_mode=TextMode.FILL_STROKE, line_width=stroke)

    def doc_title(self, text: str, size: float = 17, after: float = 2) -> None:
        self.set_font(FAMILY, size=size)
        with self.bold_text(0.25):
            self.cell(0, size * 0.55, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(after)

    def line_of(self, left: str, right: str = "", size: float = 10) -> None:
        """A line above a table: e.g. 考生号 on the left, 报名点 on the right."""
        self.set_font(FAMILY, size=size)
        y = self.get_y()
        self.cell(CONTENT_WIDTH / 2, 6, left, align="L")
        self.set_xy(MARGIN + CONTENT_WIDTH / 2, y)
        self.cell(CONTENT_WIDTH / 2, 6, right, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str, size: float = 11.5) -> None:
        self.ln(2)
        self.set_font(FAMILY, size=size)
        with self.bold_text():
            self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def wrap(self, text: str, width: float) -> list[str]:
        """Lines of `text` in the current font that fit `width` (mm), broken the Chinese way.

        Any two CJK characters may be split, but a closing punctuation mark never starts a line
        (it hangs past the edge instead, as Chinese typesetting does), and a run of Latin letters
        or digits (a number, a code) is kept whole when it fits on a line of its own.
        """
        lines: list[str] = []
        for paragraph in (text or "").split("\n"):
            line = ""
            for char in paragraph:
                if not line or char in NO_LINE_START or self.get_string_width(line + char) <= width:
                    line += char
                    continue
                run = len(line) - len(line.rstrip(_WORD_CHARS))
                if char in _WORD_CHARS and 0 < run < len(line):
                    lines.append(line[:-run])
                    line = line[-run:] + char
                else:
                    lines.append(line)
                    line = char
            lines.append(line)
        return lines

    def text_lines(self, x: float, y: float, width: float, lines: Sequence[str], line: float, align: str = "L") -> None:
        for i, text in enumerate(lines):
            self.set_xy(x, y + i * line)
            self.cell(width, line, text, align=align)

    def paragraph(self, text: str, size: float = 9.5, indent: float = 0, line: float = 5.2) -> None:
        self.set_font(FAMILY, size=size)
        lines = self.wrap(text, CONTENT_WIDTH - indent - 2 * CELL_PAD)
        self._flow(MARGIN + indent, CONTENT_WIDTH - indent, lines, line)

    def numbered(self, items: Sequence[str], size: float = 9.5, line: float = 5.0) -> None:
        self.set_font(FAMILY, size=size)
        for i, item in enumerate(items, 1):
            lines = self.wrap(item, CONTENT_WIDTH - 8 - 2 * CELL_PAD)
            if self.get_y() + line > self.page_break_trigger:
                self.add_page()
            y = self.get_y()
            self.set_xy(MARGIN, y)
            self.cell(8, line, f"{i}.", align="R")
            self._flow(MARGIN + 8, CONTENT_WIDTH - 8, lines, line)

    def _flow(self, x: float, width: float, lines: Sequence[str], line: float) -> None:
        """Lines down the page from the current position, breaking pages where needed."""
        for text in lines:
            if self.get_y() + line > self.page_break_trigger:
                self.add_page()
            y = self.get_y()
            self.set_xy(x, y)
            self.cell(width, line, text)
            self.set_xy(MARGIN, y + line)

    # --- the grid ----------------------------------------------------------------------------

    def _lines(self, cell: Cell) -> list[str]:
        return self.wrap(cell.text, cell.width - 2 * CELL_PAD)

    def row_height(self, cells: Sequence[Cell], min_height: float, line: float) -> float:
        height = min_height
        for cell in cells:
            self.set_font(FAMILY, size=cell.size or 10)
            height = max(height, len(self._lines(cell)) * line + 2.4)
        return height

    def grid_row(
        self,
        cells: Sequence[Cell],
        min_height: float = 8.5,
        line: float = 4.8,
        x: float = MARGIN,
        height: float | None = None,
    ) -> float:
        """One bordered row of cells side by side; the text wraps and is centred vertically.

        Returns the row's height. A row that does not fit on the page starts a new one.
        """
        h = height if height is not None else self.row_height(cells, min_height, line)
        if self.get_y() + h > self.page_break_trigger:
            self.add_page()
        top = self.get_y()
        left = x
        for cell in cells:
            self.set_font(FAMILY, size=cell.size or 10)
            if cell.label:
                self.set_fill_color(*LABEL_FILL)
                self.rect(left, top, cell.width, h, style="DF")
            else:
                self.rect(left, top, cell.width, h)
            lines = self._lines(cell)
            align = cell.align or ("C" if cell.label else "L")
            self.text_lines(left, top + (h - len(lines) * line) / 2, cell.width, lines, line, align)
            left += cell.width
        self.set_xy(x, top + h)
        return h

    # --- photo and QR ------------------------------------------------------------------------

    def photo(self, x: float, y: float, w: float, h: float, jpeg: bytes | None) -> None:
        """The candidate's photo inside a bordered box, or a box saying 照片 when there is none."""
        self.rect(x, y, w, h)
        image = _photo_image(jpeg) if jpeg else None
        if image is None:
            self.set_font(FAMILY, size=12)
            self.set_xy(x, y + h / 2 - 7)
            self.cell(w, 7, "照片", align="C")
            self.set_font(FAMILY, size=7.5)
            self.set_xy(x, y + h / 2 + 1)
            self.multi_cell(w, 3.6, "近期一寸\n免冠证件照", align="C")
            return
        pad = 0.8
        self.image(image, x + pad, y + pad, w - 2 * pad, h - 2 * pad, keep_aspect_ratio=True)

    def qr(self, x: float, y: float, size: float, data: str) -> None:
        """A QR code drawn as vector squares (sharp at any print resolution), quiet zone included."""
        code = segno.make_qr(data, error="m")
        matrix = [list(row) for row in code.matrix]
        modules = len(matrix) + 8  # 4 modules of quiet zone on each side
        unit = size / modules
        with self.local_context(fill_color=(0, 0, 0)):
            for r, row in enumerate(matrix):
                c = 0
                while c < len(row):
                    if row[c]:
                        start = c
                        while c < len(row) and row[c]:
                            c += 1
                        # A hair of overlap so that no white seam appears between runs.
                        self.rect(
                            x + (4 + start) * unit, y + (4 + r) * unit, (c - start) * unit + 0.01, unit + 0.01, "F"
                        )
                    else:
                        c += 1


def _photo_image(jpeg: bytes) -> io.BytesIO | None:
    """The photo checked (dimensions first), turned upright, at most 600 x 800 pixels (over 500 dpi
    in a 26 x 35 mm box) and re-encoded as JPEG, which the PDF embeds as it is; None if unusable."""
    try:
        with Image.open(io.BytesIO(jpeg)) as probe:
            if probe.width * probe.height > _PHOTO_MAX_PIXELS:
                return None
            probe.load()
            image = ImageOps.exif_transpose(probe).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        log.warning("candidate photo could not be decoded; printing the placeholder")
        return None
    image.thumbnail((600, 800))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    out.seek(0)
    return out
