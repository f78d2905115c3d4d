"""Layout: text never leaves its panel or the page, whatever the names are."""

import pytest

from qr.codes import QUIET_ZONE, poster_url, qr_matrix
from qr.compose import layout_poster
from qr.fonts import FontRef, find_cjk_font
from qr.layout import LAYOUTS, Layout, PosterInfo, PosterLayout
from qr.textfit import ELLIPSIS, fit_text, wrap

NAME_40 = "万博装饰市场二期东区一楼张记瓷砖卫浴洁具批发零售旗舰店分店直营部门万博装饰市"
CM = 72 / 2.54


def _poster(**changes: object) -> PosterInfo:
    """Return a merchant poster, with some fields changed."""
    fields: dict[str, object] = {
        "url": poster_url("https://ks.example.cn", "AB12CD34EF"),
        "poster_code": "AB12CD34EF",
        "merchant_name": "老王水果店",
        "market_name": "万博装饰市场",
        "station_name": "万博装饰市场消费维权服务站",
        "station_phone": "0355-2021234",
    }
    fields.update(changes)
    return PosterInfo(**fields)  # type: ignore[arg-type]


POSTERS = {
    "merchant-40": _poster(merchant_name=NAME_40),
    "market": _poster(merchant_name=None, poster_code="MK00000001"),
    "standalone": _poster(market_name=None, merchant_name="龙潭景区游客中心"),
    "everything-long": _poster(
        merchant_name=NAME_40 * 3,
        market_name=NAME_40,
        station_name=NAME_40,
        station_phone="0355-20212345 转 8008 / 138 0355 1234",
        url="https://complaints.market-supervision.example.gov.cn/kuaisu/c/AB12CD34EF0123456789",
        poster_code="AB12CD34EF0123456789",
        respond_minutes=1440,
        onsite_minutes=2880,
        feedback_hours=720,
    ),
    "no-station": _poster(station_name=None, station_phone=None, signed_commitment=False),
}


@pytest.fixture(scope="module")
def font() -> FontRef:
    return find_cjk_font()


@pytest.fixture(params=[(kind, layout) for kind in POSTERS for layout in LAYOUTS], ids=str)
def laid_out(request: pytest.FixtureRequest, font: FontRef) -> tuple[PosterInfo, PosterLayout]:
    kind, layout = request.param
    info = POSTERS[kind]
    return info, layout_poster(info, layout, font)


def test_everything_lies_on_the_page(laid_out: tuple[PosterInfo, PosterLayout]) -> None:
    _, poster = laid_out
    assert all(poster.page.contains(panel.box) for panel in poster.panels)
    assert all(poster.page.contains(line.box) for line in poster.lines)
    assert poster.page.contains(poster.qr)


def test_text_stays_inside_its_panel(laid_out: tuple[PosterInfo, PosterLayout]) -> None:
    _, poster = laid_out
    for line in poster.lines:
        assert poster.panels[line.panel].box.contains(line.box), line.text
        # A later panel over the line would paint over it.
        for panel in poster.panels[line.panel + 1 :]:
            assert not panel.box.overlaps(line.box), line.text


def test_nothing_overlaps(laid_out: tuple[PosterInfo, PosterLayout]) -> None:
    _, poster = laid_out
    boxes = [line.box for line in poster.lines]
    for index, box in enumerate(boxes):
        assert not box.overlaps(poster.qr), poster.lines[index].text
        for other in boxes[index + 1 :]:
            assert not box.overlaps(other), poster.lines[index].text


def test_qr_code_is_big_enough(laid_out: tuple[PosterInfo, PosterLayout]) -> None:
    info, poster = laid_out
    modules = len(qr_matrix(info.url))
    symbol = poster.qr.width * modules / (modules + 2 * QUIET_ZONE)
    # Scanned from about a metre on an A4 wall, from arm's length on A6.
    least = {595: 8.5 * CM, 420: 6 * CM, 298: 4 * CM}[round(poster.width)]
    assert symbol >= least


@pytest.mark.parametrize("layout", LAYOUTS)
def test_forty_character_name_is_shown_whole(layout: Layout, font: FontRef) -> None:
    poster = layout_poster(POSTERS["merchant-40"], layout, font)
    name_lines = [line.text for line in poster.lines if line.text in NAME_40]
    assert "".join(name_lines) == NAME_40
    assert 2 <= len(name_lines) <= 3


def test_overlong_name_is_cut_with_an_ellipsis(font: FontRef) -> None:
    poster = layout_poster(POSTERS["everything-long"], "A6", font)
    assert any(line.text.endswith(ELLIPSIS) for line in poster.lines)


def test_market_poster_asks_to_choose_the_merchant(font: FontRef) -> None:
    texts = [line.text for line in layout_poster(POSTERS["market"], "A4", font).lines]
    assert "扫码后选择商户" in texts
    assert "万博装饰市场" in texts


def _measure(text: str, size: float) -> float:
    """Measure every character as one em, like most CJK glyphs."""
    return len(text) * size


def test_wrap_keeps_words_and_urls_whole() -> None:
    lines = wrap("王记 fresh fruit 水果 0355-2021234", _measure, 1, 12)
    assert "0355-2021234" in lines
    assert all(len(line) <= 12 for line in lines)


def test_wrap_splits_a_word_longer_than_the_line() -> None:
    lines = wrap("https://ks.example.cn/c/AB12CD34EF", _measure, 1, 10)
    assert "".join(lines) == "https://ks.example.cn/c/AB12CD34EF"
    assert all(len(line) <= 10 for line in lines)


def test_wrap_never_starts_a_line_with_closing_punctuation() -> None:
    lines = wrap("万博装饰市场·张记瓷砖，欢迎光临。", _measure, 1, 6)
    assert not any(line[0] in "·，。" for line in lines)


def test_fit_text_shrinks_then_balances() -> None:
    fitted = fit_text("一二三四五六七八九十", _measure, 60, 2, 10, 4)
    assert fitted.size == 10
    assert fitted.lines == ("一二三四五", "六七八九十")
    assert not fitted.truncated


def test_fit_text_truncates_only_at_the_smallest_size() -> None:
    fitted = fit_text("一二三四五六七八九十" * 3, _measure, 40, 1, 10, 8)
    assert fitted.size == 8
    assert fitted.truncated
    assert fitted.lines[0].endswith(ELLIPSIS)
    assert _measure(fitted.lines[0], 8) <= 40
