"""Finding a CJK font reportlab can embed, and checking names against its glyphs."""

from pathlib import Path

import pytest

from qr.fonts import FONT_ENV, FontNotFoundError, FontRef, find_cjk_font, missing_glyphs

DEMO_NAMES = [
    "万博装饰市场·张记瓷砖",
    "老王水果店",
    "鑫隆海鲜批发",
    "长治农贸批发市场",
    "李记粮油副食",
    "福满楼酒家",
    "晋城老陈醋专卖",
    "德润堂大药房",
    "回民街腊牛肉",
    "西安大唐不夜城·老孙家泡馍",
    "吉林市东市场·朝鲜族泡菜",
    "昆明斗南花卉市场·七彩鲜花",
    "丽江古城银饰坊",
    "龙潭景区游客中心",
    "聚宝斋古玩字画",
    "垚鑫建材",
    "淼淼水产",
    "犇牛火锅",
    "喆喆童装",
    "燚火烧烤",
    "（旗舰店）A区12号",
    "消费维权服务站",
    "扫码投诉 全国12315 双承诺 45分钟内响应 · 90分钟内到场 · 24小时内反馈",
]


@pytest.fixture
def font() -> FontRef:
    """Return the font the posters use on this machine."""
    return find_cjk_font()


def _link(folder: Path, name: str, target: str) -> Path:
    """Make folder/name point at a real font file."""
    link = folder / name
    link.symlink_to(target)
    return link


def _fake_cff(path: Path) -> Path:
    """Write a file that looks like an OpenType/CFF font (Noto CJK style)."""
    path.write_bytes(b"OTTO" + bytes(60))
    return path


def test_environment_beats_installed_fonts(tmp_path: Path, font: FontRef) -> None:
    _link(tmp_path, "wqy-microhei.ttc", font.path)
    environ = {FONT_ENV: f"{font.path}:0"}
    assert find_cjk_font(environ, [str(tmp_path)]) == FontRef(font.path, 0)


def test_environment_without_index_means_face_zero(font: FontRef) -> None:
    assert find_cjk_font({FONT_ENV: font.path}, []) == FontRef(font.path, 0)


def test_environment_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match="fonts-wqy-microhei"):
        find_cjk_font({FONT_ENV: str(tmp_path / "gone.ttc")}, [])


def test_environment_with_postscript_outlines_is_an_error(tmp_path: Path) -> None:
    noto = _fake_cff(tmp_path / "NotoSansCJK-Regular.otf")
    with pytest.raises(FontNotFoundError, match="fonts-wqy-microhei"):
        find_cjk_font({FONT_ENV: str(noto)}, [])


def test_installed_font_is_found_in_search_paths(tmp_path: Path, font: FontRef) -> None:
    nested = tmp_path / "truetype" / "wqy"
    nested.mkdir(parents=True)
    link = _link(nested, "wqy-microhei.ttc", font.path)
    assert find_cjk_font({}, [str(tmp_path)]) == FontRef(str(link), 0)


def test_micro_hei_is_preferred_to_zen_hei(tmp_path: Path, font: FontRef) -> None:
    _link(tmp_path, "wqy-zenhei.ttc", font.path)
    micro = _link(tmp_path, "wqy-microhei.ttc", font.path)
    assert find_cjk_font({}, [str(tmp_path)]) == FontRef(str(micro), 0)


def test_system_fonts_are_found_by_default() -> None:
    found = find_cjk_font({})
    assert Path(found.path).name in {"wqy-microhei.ttc", "wqy-zenhei.ttc"}


def test_postscript_outline_fonts_are_skipped(tmp_path: Path) -> None:
    _fake_cff(tmp_path / "NotoSansCJK-Regular.ttc")
    _fake_cff(tmp_path / "wqy-zenhei.ttc")
    with pytest.raises(FontNotFoundError, match="fonts-wqy-microhei"):
        find_cjk_font({}, [str(tmp_path)])


def test_nothing_found_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError) as caught:
        find_cjk_font({}, [str(tmp_path / "empty"), str(tmp_path)])
    assert "apt-get install fonts-wqy-microhei" in str(caught.value)


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_demo_names_have_every_glyph(name: str, font: FontRef) -> None:
    assert missing_glyphs(name, font) == set()


def test_absent_glyphs_are_reported(font: FontRef) -> None:
    text = "王记水果\U0001f600 \ue000\t店"
    assert missing_glyphs(text, font) == {"\U0001f600", "\ue000"}
