"""Draw poster pages as vector PDF with reportlab, the CJK font embedded as a subset."""

from collections.abc import Sequence
from typing import BinaryIO

from reportlab.pdfgen.canvas import Canvas

from qr.codes import QUIET_ZONE, dark_runs, qr_matrix
from qr.compose import TITLE, layout_poster
from qr.fonts import FontRef, load_ttfont
from qr.layout import PAGE_SIZES, Box, Colour, Layout, PosterInfo, PosterLayout, mix

CREATOR = "Kuaisu 快诉"


def new_canvas(out: BinaryIO, layout: Layout, title: str = TITLE) -> Canvas:
    """Return a canvas for poster pages of the given size."""
    # invariant: no timestamps or random IDs, so the same posters give the same bytes.
    canvas = Canvas(out, pagesize=PAGE_SIZES[layout], pageCompression=1, invariant=1)
    canvas.setTitle(title)
    canvas.setCreator(CREATOR)
    canvas.setAuthor(CREATOR)
    return canvas


def draw_page(canvas: Canvas, info: PosterInfo, layout: Layout, font: FontRef) -> None:
    """Draw one poster on the canvas and end the page."""
    poster = layout_poster(info, layout, font)
    for panel in poster.panels[1:]:
        canvas.setFillColorRGB(*_rgb(panel.paper))
        canvas.rect(*_pdf_rect(panel.box, poster.height), stroke=0, fill=1)
    font_name = load_ttfont(font).fontName
    for line in poster.lines:
        panel = poster.panels[line.panel]
        colour = _rgb(mix(panel.paper, panel.ink, line.tone))
        canvas.setFont(font_name, line.size)
        canvas.setFillColorRGB(*colour)
        y = poster.height - line.baseline
        if line.stroke:
            canvas.setStrokeColorRGB(*colour)
            canvas.setLineWidth(2 * line.stroke)
            # Render mode 2 fills and strokes the glyphs: a faux bold.
            canvas.drawString(line.x, y, line.text, mode=2)
        else:
            canvas.drawString(line.x, y, line.text)
    _draw_qr(canvas, qr_matrix(info.url), poster)
    canvas.showPage()


def qr_path(matrix: Sequence[Sequence[bool]]) -> str:
    """Return PDF path operators filling the dark modules, one rectangle per run in a row."""
    runs = [f"{column} {row} {length} 1 re" for row, column, length in dark_runs(matrix)]
    # One fill for the whole path: no hairline seams between touching rectangles.
    return "\n".join(runs) + "\nf"


def _draw_qr(canvas: Canvas, matrix: Sequence[Sequence[bool]], poster: PosterLayout) -> None:
    """Draw the code in its square, module coordinates mapped by one transform."""
    box = poster.qr
    module = box.width / (len(matrix) + 2 * QUIET_ZONE)
    ink = poster.panels[0].ink
    canvas.saveState()
    canvas.setFillColorRGB(*_rgb(ink))
    canvas.translate(box.x + QUIET_ZONE * module, poster.height - box.y - QUIET_ZONE * module)
    # Flip y so that row r is r modules down: integer operators keep pages small.
    canvas.scale(module, -module)
    canvas.addLiteral(qr_path(matrix))
    canvas.restoreState()


def _pdf_rect(box: Box, page_height: float) -> tuple[float, float, float, float]:
    """Return (x, y, width, height) in PDF coordinates, y measured from the bottom."""
    return box.x, page_height - box.bottom, box.width, box.height


def _rgb(colour: Colour) -> tuple[float, float, float]:
    """Return an 8-bit colour as reportlab's 0..1 floats."""
    return colour[0] / 255, colour[1] / 255, colour[2] / 255
