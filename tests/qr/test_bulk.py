"""Bulk posters: one streamed PDF, or a streamed ZIP of PNGs, in order, in worker processes."""

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, BinaryIO, cast

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from qr import bulk, chunks
from qr.bulk import entry_name, write_pdf, write_png_zip
from qr.codes import poster_url
from qr.fonts import FontRef, find_cjk_font
from qr.poster import PosterInfo

COUNT = 30
NAMES = ["王记水果", "../../x", "a/b", "万博装饰市场·张记瓷砖", None, "老王水果店", "  ", "C:\\evil"]


class Unseekable(io.RawIOBase):
    """An output like a web response: it can only be written to, front to back."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.data += data
        return len(data)

    def stream(self) -> BinaryIO:
        """Return self typed as the binary stream the writers take."""
        return cast(BinaryIO, self)


@pytest.fixture(scope="module")
def font() -> FontRef:
    return find_cjk_font()


def _posters(count: int = COUNT) -> Iterator[PosterInfo]:
    """Yield posters lazily, as a database cursor would."""
    for number in range(count):
        code = f"BULK{number:06d}"
        yield PosterInfo(
            url=poster_url("https://ks.example.cn", code),
            poster_code=code,
            merchant_name=NAMES[number % len(NAMES)],
            market_name="万博装饰市场",
            station_name="万博装饰市场消费维权服务站",
            station_phone="0355-2021234",
        )


def _spy_on_pool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the worker count each time a process pool renders chunks."""
    pools: list[int] = []
    pooled = chunks._pooled

    def spy(*args: Any) -> Any:
        pools.append(args[-1])
        return pooled(*args)

    monkeypatch.setattr(chunks, "_pooled", spy)
    return pools


def _decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def _check_xref(pdf: bytes) -> int:
    """Check that every cross-reference entry points at its object; return the count."""
    start = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])
    lines = pdf[start:].split(b"\n")
    assert lines[0] == b"xref"
    count = int(lines[1].split()[1])
    for number in range(1, count):
        offset = int(lines[2 + number][:10])
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    return count


@pytest.mark.parametrize("workers", [1, 2])
def test_pdf_has_a_page_per_poster_in_order(
    workers: int, font: FontRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "PDF_CHUNK", 4)  # eight chunks, enough to start the pool
    pools = _spy_on_pool(monkeypatch)
    out, seen = Unseekable(), list[int]()
    assert write_pdf(_posters(), "A6", out.stream(), seen.append, workers=workers, font=font) == COUNT
    assert seen == [4, 8, 12, 16, 20, 24, 28, 30]
    assert pools == ([2] if workers == 2 else [])
    pdf = bytes(out.data)
    _check_xref(pdf)
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) == COUNT
        for index in (0, COUNT - 1):
            page = document[index]
            assert _decode(page.render(scale=2).to_pil()) == [f"https://ks.example.cn/c/BULK{index:06d}"]
            assert f"BULK{index:06d}" in page.get_textpage().get_text_range()
    finally:
        document.close()


def test_pdf_pages_share_no_subset_across_chunks_but_stay_small(font: FontRef) -> None:
    out = io.BytesIO()
    write_pdf(_posters(100), "A4", out, workers=1, font=font)
    pdf = out.getvalue()
    assert pdf.count(b"/FontFile2") >= 2  # one subset per chunk of pages
    assert b"STSong" not in pdf
    assert len(pdf) / 100 < 6 * 1024


def test_pdf_of_nothing_is_an_empty_document(font: FontRef) -> None:
    out = io.BytesIO()
    assert write_pdf([], "A4", out, font=font) == 0
    assert b"/Count 0" in out.getvalue()


def test_png_zip_names_entries_by_merchant(font: FontRef, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "PNG_CHUNK", 4)
    pools = _spy_on_pool(monkeypatch)
    out, seen = Unseekable(), list[int]()
    assert write_png_zip(_posters(), "A6", out.stream(), seen.append, workers=2, font=font) == COUNT
    assert pools == [2]
    assert seen[-1] == COUNT and seen == sorted(seen)
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names)) == COUNT
        assert names[0] == "0001_王记水果.png"
        assert names[3] == "0004_万博装饰市场·张记瓷砖.png"
        assert names[4] == "0005_万博装饰市场.png"  # a market poster
        for name in names:
            assert re.fullmatch(r"\d{4}_[^/\\:*?\"<>|. ]+\.png", name), name
            assert ".." not in name
        for index in (0, COUNT - 1):
            image = Image.open(io.BytesIO(archive.read(names[index])))
            assert _decode(image) == [f"https://ks.example.cn/c/BULK{index:06d}"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("王记水果", "0007_王记水果.png"),
        ("../../x", "0007_x.png"),
        ("a/b", "0007_a_b.png"),
        ("C:\\evil", "0007_C_evil.png"),
        ("  ", "0007_BULK000007.png"),
        ("鑫隆海鲜（批发）", "0007_鑫隆海鲜(批发).png"),
        ("长" * 80, "0007_" + "长" * 40 + ".png"),
    ],
)
def test_entry_names_are_safe(name: str, expected: str) -> None:
    info = replace(next(_posters(1)), merchant_name=name, poster_code="BULK000007")
    assert entry_name(7, info) == expected


def test_small_jobs_skip_the_pool(font: FontRef, monkeypatch: pytest.MonkeyPatch) -> None:
    pools = _spy_on_pool(monkeypatch)
    assert write_pdf(_posters(), "A6", io.BytesIO(), font=font) == COUNT
    assert pools == []


def test_a_failing_source_stops_the_workers(font: FontRef, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "PDF_CHUNK", 2)

    def failing() -> Iterator[PosterInfo]:
        yield from _posters(20)
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        write_pdf(failing(), "A6", io.BytesIO(), workers=2, font=font)
