"""Single posters: the QR code decodes back to the URL, the text is all there."""

import io
from dataclasses import replace

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from qr.codes import poster_url
from qr.fonts import FontRef, find_cjk_font
from qr.poster import LAYOUTS, Layout, PosterInfo, layout_poster, render_pdf, render_png

NAME_40 = "万博装饰市场二期东区一楼张记瓷砖卫浴洁具批发零售旗舰店分店直营部门万博装饰市"
MERCHANT = PosterInfo(
    url=poster_url("https://ks.example.cn", "AB12CD34EF"),
    poster_code="AB12CD34EF",
    merchant_name=NAME_40,
    market_name="万博装饰市场",
    station_name="万博装饰市场消费维权服务站",
    station_phone="0355-2021234",
)
MARKET = PosterInfo(
    url=poster_url("https://ks.example.cn", "MK00000001"),
    poster_code="MK00000001",
    merchant_name=None,
    market_name="长治农贸批发市场",
    station_name="长治农贸批发市场消费维权服务站",
    station_phone="0355-7654321",
    respond_minutes=30,
    onsite_minutes=60,
    feedback_hours=12,
)
A4_PIXELS_AT_300_DPI = (2480, 3508)


@pytest.fixture(scope="module")
def font() -> FontRef:
    return find_cjk_font()


def _pdf(info: PosterInfo, layout: Layout, font: FontRef) -> bytes:
    """Render a poster to PDF bytes."""
    out = io.BytesIO()
    render_pdf(info, layout, out, font)
    return out.getvalue()


def _decode(image: Image.Image) -> list[str]:
    """Return the text of every QR code found in an image."""
    return [result.text for result in zxingcpp.read_barcodes(image)]


def _page_text(pdf: bytes, index: int = 0) -> str:
    """Return the text of one PDF page, as a copy-paste would give it."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return str(document[index].get_textpage().get_text_range())
    finally:
        document.close()


def _raster(pdf: bytes, index: int = 0, dpi: int = 150) -> Image.Image:
    """Return one PDF page rendered to an image."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[index].render(scale=dpi / 72).to_pil()
    finally:
        document.close()


@pytest.mark.parametrize("info", [MERCHANT, MARKET], ids=["merchant", "market"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pdf_round_trip(info: PosterInfo, layout: Layout, font: FontRef) -> None:
    assert _decode(_raster(_pdf(info, layout, font))) == [info.url]


@pytest.mark.parametrize("info", [MERCHANT, MARKET], ids=["merchant", "market"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_png_round_trip(info: PosterInfo, layout: Layout, font: FontRef) -> None:
    image = Image.open(io.BytesIO(render_png(info, layout, font=font)))
    assert _decode(image) == [info.url]


def test_png_is_a_300_dpi_palette_image(font: FontRef) -> None:
    image = Image.open(io.BytesIO(render_png(MERCHANT, "A4", font=font)))
    image.load()
    assert image.size == A4_PIXELS_AT_300_DPI
    assert image.mode == "P"
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_png_header_band_is_red(font: FontRef) -> None:
    image = Image.open(io.BytesIO(render_png(MERCHANT, "A6", dpi=100, font=font))).convert("RGB")
    red, green, blue = image.getpixel((3, 3))  # type: ignore[misc]
    assert red > 150 and green < 60 and blue < 60


@pytest.mark.parametrize("layout", LAYOUTS)
def test_merchant_pdf_says_everything(layout: Layout, font: FontRef) -> None:
    text = _page_text(_pdf(MERCHANT, layout, font))
    flat = "".join(text.split())
    for expected in ["扫码投诉", NAME_40, MERCHANT.url, "12315", "AB12CD34EF", "万博装饰市场"]:
        assert expected in flat
    for expected in ["双承诺", "45分钟内响应", "90分钟内到场", "24小时内反馈", "0355-2021234"]:
        assert expected in flat


def test_market_pdf_asks_to_choose_and_shows_its_times(font: FontRef) -> None:
    flat = "".join(_page_text(_pdf(MARKET, "A5", font)).split())
    assert "扫码后选择商户" in flat
    assert "长治农贸批发市场" in flat
    assert "30分钟内响应·60分钟内到场·12小时内反馈" in flat


def test_unsigned_commitment_is_not_called_double_commitment(font: FontRef) -> None:
    info = replace(MERCHANT, signed_commitment=False)
    flat = "".join(_page_text(_pdf(info, "A4", font)).split())
    assert "双承诺" not in flat
    assert "投诉处理时限" in flat


def test_pdf_embeds_a_font_subset(font: FontRef) -> None:
    pdf = _pdf(MERCHANT, "A4", font)
    assert b"/FontFile2" in pdf
    assert b"+WenQuanYi" in pdf  # the six-letter tag reportlab gives a subset
    assert b"STSong" not in pdf
    assert len(pdf) < 60_000


def test_pdf_draws_the_code_as_vectors(font: FontRef) -> None:
    pdf = _pdf(MERCHANT, "A4", font)
    assert b"/XObject" not in pdf  # no embedded bitmap
    assert b" re\n" not in pdf  # the page stream is compressed


@pytest.mark.parametrize("layout", LAYOUTS)
def test_png_text_stays_out_of_the_side_margins(layout: Layout, font: FontRef) -> None:
    long_everything = replace(MERCHANT, merchant_name=NAME_40 * 2, station_name=NAME_40)
    poster = layout_poster(long_everything, layout, font)
    scale = 150 / 72
    image = Image.open(io.BytesIO(render_png(long_everything, layout, dpi=150, font=font)))
    rgb = image.convert("RGB")
    bands = [panel.box for panel in poster.panels[1:] if panel.box.width == poster.width]
    band_bottom, footer_top = bands[0].bottom * scale, bands[-1].y * scale
    strip = round(poster.width * 0.03 * scale)
    for left in (0, rgb.width - strip):
        margin = rgb.crop((left, round(band_bottom) + 2, left + strip, round(footer_top) - 2))
        assert margin.getcolors() == [(margin.width * margin.height, (255, 255, 255))]
