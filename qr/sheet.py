"""A page being laid out: measures text with the font and places panels and lines."""

from typing import Literal

from reportlab.lib.pagesizes import A4

from qr.fonts import FontRef, load_ttfont
from qr.layout import (
    BLACK,
    PAGE_SIZES,
    WHITE,
    Box,
    Colour,
    Layout,
    Panel,
    PosterLayout,
    TextLine,
)
from qr.textfit import FittedText, fit_text

# Outline half-width per point of font size; WenQuanYi Micro Hei has no bold face.
BOLD = 0.022
LEADING = 1.22
# The PNG renderer's hinted advances can run a little wider than the font's own.
_WIDTH_SLACK = 0.985

Align = Literal["left", "center", "right"]


class Sheet:
    """Collect the panels and text lines of one poster page."""

    def __init__(self, layout: Layout, font: FontRef) -> None:
        self.width, self.height = PAGE_SIZES[layout]
        # Designed on A4; A5 and A6 scale down, with floors on the smallest text.
        self.scale = self.width / A4[0]
        self.margin = self.pt(36)
        self.text_width = self.width - 2 * self.margin
        self._ttfont = load_ttfont(font)
        self._ascent = self._ttfont.face.ascent / 1000
        self._descent = -self._ttfont.face.descent / 1000
        self.panels: list[Panel] = [Panel(Box(0, 0, self.width, self.height), WHITE, BLACK)]
        self.lines: list[TextLine] = []

    def pt(self, a4_points: float, least: float = 0.0) -> float:
        """Scale a length designed for A4 to this page, never below least."""
        return max(least, a4_points * self.scale)

    def advance(self, text: str, size: float) -> float:
        """Return the advance width of text in points."""
        return float(self._ttfont.stringWidth(text, size))

    def stroke(self, size: float, bold: bool) -> float:
        """Return the fake-bold outline half-width for a size."""
        return BOLD * size if bold else 0.0

    def fit(
        self,
        text: str,
        width: float,
        max_lines: int,
        sizes: tuple[float, float],
        bold: bool = False,
    ) -> FittedText:
        """Wrap and shrink text to width, from sizes[0] down to sizes[1] points."""
        outline = 2 * BOLD if bold else 0.0

        def measure(part: str, size: float) -> float:
            return self.advance(part, size) + outline * size

        return fit_text(text, measure, width * _WIDTH_SLACK, max_lines, *sizes)

    def glyph_height(self, size: float, bold: bool = False) -> float:
        """Return the height one line of glyphs can cover, ascender to descender."""
        return (self._ascent + self._descent) * size + 2 * self.stroke(size, bold)

    def height_of(self, fitted: FittedText, bold: bool = False) -> float:
        """Return the height a block of fitted lines takes."""
        leading = (len(fitted.lines) - 1) * LEADING * fitted.size
        return leading + self.glyph_height(fitted.size, bold)

    def panel(self, box: Box, paper: Colour, ink: Colour) -> int:
        """Add a panel in front of the earlier ones and return its index."""
        self.panels.append(Panel(box, paper, ink))
        return len(self.panels) - 1

    def block(
        self,
        fitted: FittedText,
        top: float,
        panel: int = 0,
        *,
        box: tuple[float, float] | None = None,
        align: Align = "center",
        tone: float = 1.0,
        bold: bool = False,
    ) -> float:
        """Place fitted lines from top within box=(left, width); return the bottom y."""
        left, width = box if box is not None else (self.margin, self.text_width)
        size = fitted.size
        stroke = self.stroke(size, bold)
        baseline = top + stroke + self._ascent * size
        for text in fitted.lines:
            advance = self.advance(text, size)
            free = width - advance - 2 * stroke
            shift = {"left": 0.0, "center": free / 2, "right": free}[align]
            self.lines.append(
                TextLine(
                    text=text,
                    x=left + stroke + shift,
                    baseline=baseline,
                    size=size,
                    advance=advance,
                    ascent=self._ascent * size,
                    descent=self._descent * size,
                    panel=panel,
                    tone=tone,
                    stroke=stroke,
                )
            )
            baseline += LEADING * size
        return top + self.height_of(fitted, bold)

    def finish(self, qr: Box) -> PosterLayout:
        """Return the finished layout."""
        return PosterLayout(self.width, self.height, tuple(self.panels), tuple(self.lines), qr)
