"""Draw posters straight to PNG with Pillow, as a small palette image."""

import math
import threading
from collections.abc import Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from qr.codes import QUIET_ZONE, qr_matrix
from qr.compose import layout_poster
from qr.fonts import FontRef
from qr.layout import Box, Colour, Layout, PosterInfo, PosterLayout, TextLine
from qr.pngfile import IndexedCanvas

# A FreeType face is not safe to use from two threads at once, and the fonts are shared.
_FREETYPE = threading.Lock()


class _Palette:
    """Each distinct (ink, paper) pair gets a run of indices ramping from ink to paper."""

    def __init__(self, poster: PosterLayout) -> None:
        self.ramps: list[tuple[Colour, Colour]] = []
        for panel in poster.panels:
            if (panel.ink, panel.paper) not in self.ramps:
                self.ramps.append((panel.ink, panel.paper))
        self.levels = 256 // len(self.ramps)
        self._panels = poster.panels

    def index(self, panel: int, tone: float) -> int:
        """Return the index of a panel's ink at a tone; tone 0 is its paper."""
        ramp = self.ramps.index((self._panels[panel].ink, self._panels[panel].paper))
        return ramp * self.levels + round((self.levels - 1) * (1 - tone))

    def colours(self) -> bytes:
        """Return the palette as RGB bytes."""
        palette = bytearray()
        for ink, paper in self.ramps:
            for level in range(self.levels):
                share = level / (self.levels - 1)
                palette.extend(round(i + (p - i) * share) for i, p in zip(ink, paper, strict=True))
        return bytes(palette)


def render_poster_png(info: PosterInfo, layout: Layout, dpi: int, font: FontRef) -> bytes:
    """Return the poster as PNG bytes at dpi, with the dpi recorded in the file."""
    poster = layout_poster(info, layout, font)
    palette = _Palette(poster)
    scale = dpi / 72
    size = (round(poster.width * scale), round(poster.height * scale))
    # Drawn in palette indices: antialiasing blends a paper index towards an ink index
    # of the same ramp, so the result is already the final palette image.
    canvas = IndexedCanvas(size, palette.index(0, 0))
    for number, panel in enumerate(poster.panels[1:], start=1):
        canvas.fill(_pixels(panel.box, scale), palette.index(number, 0))
    for line in poster.lines:
        coverage, origin = _coverage(font, line, scale)
        canvas.stamp(palette.index(line.panel, line.tone), origin, coverage)
    _draw_qr(canvas, qr_matrix(info.url), poster.qr, scale, palette)
    return canvas.encode(palette.colours(), dpi)


@lru_cache(maxsize=64)
def _coverage(font: FontRef, line: TextLine, scale: float) -> tuple[Image.Image, tuple[int, int]]:
    """Return a line's coverage mask and where it goes; the same lines recur on every poster."""
    pil_font = _pil_font(font, line.size * scale)
    stroke = line.stroke * scale
    x, y = line.x * scale, line.baseline * scale
    with _FREETYPE:
        left, top, right, bottom = pil_font.getbbox(line.text, anchor="ls", stroke_width=stroke)
        origin = (math.floor(x + left), math.floor(y + top))
        size = (math.ceil(x + right) - origin[0], math.ceil(y + bottom) - origin[1])
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).text(
            (x - origin[0], y - origin[1]),
            line.text,
            fill=255,
            font=pil_font,
            anchor="ls",
            stroke_width=stroke,
            stroke_fill=255,
        )
    return mask, origin


def _draw_qr(
    canvas: IndexedCanvas,
    matrix: Sequence[Sequence[bool]],
    box: Box,
    scale: float,
    palette: _Palette,
) -> None:
    """Paste the code with whole-pixel modules, centred in its square."""
    count = len(matrix)
    # Whole pixels per module keep every module the same size, which scanners like.
    module = max(1, int(box.width * scale) // (count + 2 * QUIET_ZONE))
    dark, light = palette.index(0, 1), palette.index(0, 0)
    cells = bytes(dark if is_dark else light for row in matrix for is_dark in row)
    symbol = Image.frombytes("L", (count, count), cells)
    symbol = symbol.resize((count * module, count * module), Image.Resampling.NEAREST)
    offset = (box.width * scale - count * module) / 2
    canvas.paste(symbol, (round(box.x * scale + offset), round(box.y * scale + offset)))


def _pixels(box: Box, scale: float) -> tuple[int, int, int, int]:
    """Return the pixel rectangle (left, top, right, bottom) of a box."""
    return (
        round(box.x * scale),
        round(box.y * scale),
        round(box.right * scale),
        round(box.bottom * scale),
    )


@lru_cache(maxsize=64)
def _pil_font(font: FontRef, pixels: float) -> ImageFont.FreeTypeFont:
    """Return the font at a pixel size, loaded once per size."""
    return ImageFont.truetype(font.path, pixels, index=font.index)
