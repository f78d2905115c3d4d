"""Render one complaint poster as a vector PDF or a PNG."""

from typing import BinaryIO

from qr.compose import layout_poster
from qr.fonts import FontRef, find_cjk_font
from qr.layout import LAYOUTS, Layout, PosterInfo, PosterLayout
from qr.pdf import draw_page, new_canvas
from qr.png import render_poster_png

__all__ = [
    "LAYOUTS",
    "Layout",
    "PosterInfo",
    "PosterLayout",
    "layout_poster",
    "render_pdf",
    "render_png",
]


def render_pdf(info: PosterInfo, layout: Layout, out: BinaryIO, font: FontRef | None = None) -> None:
    """Write the poster to out as a one-page PDF."""
    canvas = new_canvas(out, layout, title=f"扫码投诉 {info.poster_code}")
    draw_page(canvas, info, layout, font or find_cjk_font())
    canvas.save()


def render_png(info: PosterInfo, layout: Layout, dpi: int = 300, font: FontRef | None = None) -> bytes:
    """Return the poster as a PNG at dpi (300 gives 2480x3508 pixels for A4)."""
    return render_poster_png(info, layout, dpi, font or find_cjk_font())
