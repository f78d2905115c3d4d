"""Render posters in bulk as streams: one multi-page PDF, or a ZIP of PNGs."""

import io
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from contextlib import closing
from typing import BinaryIO

from qr.chunks import render_chunks
from qr.fonts import FontRef, find_cjk_font
from qr.layout import Layout, PosterInfo
from qr.pdf import draw_page, new_canvas
from qr.pdfjoin import PdfJoiner
from qr.png import render_poster_png

Progress = Callable[[int], None]

# Pages per reportlab canvas. Each chunk embeds its own font subset, so bigger chunks
# make smaller files; smaller ones report progress more often.
PDF_CHUNK = 50
PNG_CHUNK = 4
# Starting the pool takes about a second: worth it from some 400 PDF pages or 16 PNGs.
PDF_POOL_FROM = 8
PNG_POOL_FROM = 4
PNG_DPI = 300
_NAME_LENGTH = 40
# Word characters (CJK included), and the punctuation shop names use; the rest becomes "_".
_UNSAFE = re.compile(r"[^\w\-·()（）]+")


def write_pdf(
    posters: Iterable[PosterInfo],
    layout: Layout,
    out: BinaryIO,
    progress: Progress | None = None,
    workers: int | None = None,
    font: FontRef | None = None,
) -> int:
    """Write the posters to out as one PDF, a page each; return how many were written."""
    joiner = PdfJoiner(out)
    font = font or find_cjk_font()
    chunks = render_chunks(_pdf_chunk, posters, layout, font, PDF_CHUNK, workers, PDF_POOL_FROM)
    # closing(): if writing or progress fails, the worker pool still shuts down at once.
    with closing(chunks):
        for _chunk, pdf in chunks:
            joiner.append(pdf)
            if progress is not None:
                progress(joiner.pages)
    joiner.close()
    return joiner.pages


def write_png_zip(
    posters: Iterable[PosterInfo],
    layout: Layout,
    out: BinaryIO,
    progress: Progress | None = None,
    workers: int | None = None,
    font: FontRef | None = None,
) -> int:
    """Write the posters to out as a ZIP of 300 dpi PNGs named after the merchant."""
    count = 0
    stamp = time.localtime()[:6]
    font = font or find_cjk_font()
    chunks = render_chunks(_png_chunk, posters, layout, font, PNG_CHUNK, workers, PNG_POOL_FROM)
    # PNG data is already deflated; storing it saves time and loses nothing.
    with closing(chunks), zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for chunk, images in chunks:
            for info, png in zip(chunk, images, strict=True):
                count += 1
                entry = zipfile.ZipInfo(entry_name(count, info), date_time=stamp)
                archive.writestr(entry, png)
            if progress is not None:
                progress(count)
    return count


def entry_name(number: int, info: PosterInfo) -> str:
    """Return a safe, unique ZIP entry name such as "0001_王记水果.png"."""
    label = info.merchant_name or info.market_name or info.poster_code
    safe = _UNSAFE.sub("_", unicodedata.normalize("NFKC", label)).strip("_")
    safe = safe[:_NAME_LENGTH] or _UNSAFE.sub("_", info.poster_code).strip("_") or "poster"
    # The running number alone keeps names unique, whatever the labels are.
    return f"{number:04d}_{safe}.png"


def _pdf_chunk(posters: list[PosterInfo], layout: Layout, font: FontRef) -> bytes:
    """Return a PDF with one page per poster."""
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, layout)
    for info in posters:
        draw_page(canvas, info, layout, font)
    canvas.save()
    return buffer.getvalue()


def _png_chunk(posters: list[PosterInfo], layout: Layout, font: FontRef) -> list[bytes]:
    """Return one PNG per poster."""
    return [render_poster_png(info, layout, PNG_DPI, font) for info in posters]
