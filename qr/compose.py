"""The poster design: red header, who it is for, the QR code, the promise, who to call."""

from qr.fonts import FontRef
from qr.layout import BLACK, RED, TINT, WHITE, Box, Layout, PosterInfo, PosterLayout
from qr.sheet import Sheet

TITLE = "扫码投诉"
SUBTITLE = "微信或手机相机扫一扫 · 无需注册 · 即时受理"
CHOOSE_MERCHANT = "扫码后选择商户"
DOUBLE_COMMITMENT = "双承诺"
HOTLINE = "全国12315 消费者投诉举报热线"
# Scanned from a metre on an A4 wall poster: cap the code near 13 cm, quiet zone included.
_QR_MAX_SHARE = 0.62
_QR_MIN_SHARE = 0.4
_TAG_PAD = 0.22  # above and below the text of a red tag, in ems


def layout_poster(info: PosterInfo, layout: Layout, font: FontRef) -> PosterLayout:
    """Place every element of a poster so that nothing leaves its panel or the page."""
    sheet = Sheet(layout, font)
    top = _header(sheet) + sheet.pt(20, 8)
    top = _identity(sheet, info, top)
    bottom = _footer(sheet, info) - sheet.pt(14, 6)
    bottom = _station(sheet, info, bottom)
    bottom = _commitment(sheet, info, bottom)
    qr = _code(sheet, info, top + sheet.pt(6, 3), bottom - sheet.pt(6, 3))
    return sheet.finish(qr)


def commitment_text(info: PosterInfo) -> str:
    """Return the promised response, on-site and feedback times as one line."""
    return (
        f"{info.respond_minutes}分钟内响应 · {info.onsite_minutes}分钟内到场 · "
        f"{info.feedback_hours}小时内反馈"
    )


def _header(sheet: Sheet) -> float:
    """Place the red band with the title; return its bottom."""
    pad = sheet.pt(20, 9)
    title = sheet.fit(TITLE, sheet.text_width, 1, (sheet.pt(64, 26), 20), bold=True)
    subtitle = sheet.fit(SUBTITLE, sheet.text_width, 2, (sheet.pt(17, 8), 6.5))
    gap = sheet.pt(8, 4)
    height = 2 * pad + sheet.height_of(title, bold=True) + gap + sheet.height_of(subtitle)
    band = sheet.panel(Box(0, 0, sheet.width, height), RED, WHITE)
    y = sheet.block(title, pad, band, bold=True)
    sheet.block(subtitle, y + gap, band, tone=0.92)
    return height


def _identity(sheet: Sheet, info: PosterInfo, top: float) -> float:
    """Place the merchant (or market) name; return the bottom."""
    y = top
    name = info.merchant_name or info.market_name
    if name:
        sizes = (sheet.pt(36, 15), sheet.pt(26, 12))
        fitted = sheet.fit(name, sheet.text_width, 2, sizes, bold=True)
        if fitted.truncated:
            # Long names (40 characters) take a third line before shrinking further.
            sizes = (sheet.pt(26, 12), sheet.pt(14, 8))
            fitted = sheet.fit(name, sheet.text_width, 3, sizes, bold=True)
        y = sheet.block(fitted, y, bold=True)
    if info.merchant_name and info.market_name:
        market = f"所属市场：{info.market_name}"
        fitted = sheet.fit(market, sheet.text_width, 2, (sheet.pt(17, 8.5), sheet.pt(12, 7)))
        y = sheet.block(fitted, y + sheet.pt(8, 3), tone=0.72)
    if info.merchant_name is None:
        y = _tag(sheet, CHOOSE_MERCHANT, sheet.pt(20, 9.5), y + sheet.pt(12, 5))
    return y


def _tag(sheet: Sheet, text: str, size: float, top: float, left: float | None = None) -> float:
    """Place white bold text on a small red panel, centred unless left is given."""
    fitted = sheet.fit(text, sheet.text_width, 1, (size, size), bold=True)
    pad_x = size * 0.5
    width = _tag_width(sheet, text, size)
    height = _tag_height(sheet, size)
    x = (sheet.width - width) / 2 if left is None else left
    tag = sheet.panel(Box(x, top, width, height), RED, WHITE)
    sheet.block(fitted, top + _TAG_PAD * size, tag, box=(x + pad_x, width - 2 * pad_x), bold=True)
    return top + height


def _tag_width(sheet: Sheet, text: str, size: float) -> float:
    """Return the width of a red tag: bold text with half an em of padding each side."""
    return sheet.advance(text, size) + 2 * sheet.stroke(size, True) + size


def _tag_height(sheet: Sheet, size: float) -> float:
    """Return the height of a red tag with one line of bold text."""
    return sheet.glyph_height(size, bold=True) + 2 * _TAG_PAD * size


def _commitment(sheet: Sheet, info: PosterInfo, bottom: float) -> float:
    """Place the boxed public commitment above bottom; return its top minus a gap."""
    border, pad, gap = sheet.pt(2, 1), sheet.pt(12, 5), sheet.pt(8, 3.5)
    inner_width = sheet.text_width - 2 * (border + pad)
    times = sheet.fit(commitment_text(info), inner_width, 2, (sheet.pt(19, 8.5), 7))
    size = sheet.pt(15, 8)
    tag_height = _tag_height(sheet, size)
    height = 2 * (border + pad) + tag_height + gap + sheet.height_of(times)
    top = bottom - height
    sheet.panel(Box(sheet.margin, top, sheet.text_width, height), RED, WHITE)
    inner_box = Box(sheet.margin + border, top + border, inner_width + 2 * pad, height - 2 * border)
    inner = sheet.panel(inner_box, TINT, BLACK)
    _commitment_heading(sheet, info, inner, (top + border + pad, tag_height), size)
    sheet.block(times, top + border + pad + tag_height + gap, inner)
    return top - sheet.pt(12, 5)


def _commitment_heading(
    sheet: Sheet, info: PosterInfo, inner: int, row: tuple[float, float], size: float
) -> None:
    """Place "双承诺" and who makes the promise, centred on one row=(top, height)."""
    top, row_height = row
    who = "本店" if info.merchant_name else "本市场"
    label = f"{who}公开承诺" if info.signed_commitment else "投诉处理时限"
    fitted = sheet.fit(label, sheet.text_width / 2, 1, (size, size * 0.7))
    label_width = sheet.advance(label, fitted.size)
    label_top = top + (row_height - sheet.height_of(fitted)) / 2
    if not info.signed_commitment:
        sheet.block(fitted, label_top, inner)
        return
    tag_width = _tag_width(sheet, DOUBLE_COMMITMENT, size)
    gap = size * 0.6
    left = (sheet.width - tag_width - gap - label_width) / 2
    _tag(sheet, DOUBLE_COMMITMENT, size, top, left)
    sheet.block(fitted, label_top, inner, box=(left + tag_width + gap, label_width), align="left")


def _station(sheet: Sheet, info: PosterInfo, bottom: float) -> float:
    """Place the rights station's name and phone above bottom; return the new bottom."""
    texts = []
    if info.station_name:
        texts.append((f"消费维权服务站：{info.station_name}", 2))
    if info.station_phone:
        texts.append((f"服务站电话：{info.station_phone}", 1))
    sizes = (sheet.pt(15, 8), sheet.pt(11, 7))
    fitted = [sheet.fit(text, sheet.text_width, lines, sizes) for text, lines in texts]
    gap = sheet.pt(4, 2)
    height = sum(sheet.height_of(f) for f in fitted) + gap * max(0, len(fitted) - 1)
    y = bottom - height
    for each in fitted:
        y = sheet.block(each, y) + gap
    return bottom - height - (sheet.pt(14, 6) if fitted else 0)


def _footer(sheet: Sheet, info: PosterInfo) -> float:
    """Place the red footer with 12315 and the poster code; return its top."""
    pad, size = sheet.pt(11, 5), sheet.pt(14, 7.5)
    code = f"海报编号 {info.poster_code}"
    hotline = sheet.fit(HOTLINE, sheet.text_width, 1, (size, 6))
    code_fit = sheet.fit(code, sheet.text_width, 1, (size, 6))
    one_row = sheet.advance(HOTLINE + code, size) + sheet.pt(24, 8) <= sheet.text_width
    rows = 1 if one_row and not (hotline.truncated or code_fit.truncated) else 2
    row_height = max(sheet.height_of(hotline), sheet.height_of(code_fit))
    height = 2 * pad + rows * row_height + (rows - 1) * sheet.pt(4, 2)
    top = sheet.height - height
    band = sheet.panel(Box(0, top, sheet.width, height), RED, WHITE)
    if rows == 1:
        sheet.block(hotline, top + pad, band, align="left")
        sheet.block(code_fit, top + pad, band, align="right", tone=0.92)
    else:
        y = sheet.block(hotline, top + pad, band) + sheet.pt(4, 2)
        sheet.block(code_fit, y, band, tone=0.92)
    return top


def _code(sheet: Sheet, info: PosterInfo, top: float, bottom: float) -> Box:
    """Place the QR code and its URL, centred between top and bottom."""
    url = sheet.fit(info.url, sheet.text_width, 2, (sheet.pt(13, 7.5), 6))
    gap = sheet.pt(2, 1)
    url_height = sheet.height_of(url)
    side = min(bottom - top - url_height - gap, sheet.width * _QR_MAX_SHARE)
    if side < sheet.width * _QR_MIN_SHARE:
        raise ValueError(f"poster {info.poster_code}: the text leaves no room for the QR code")
    y = top + (bottom - top - side - gap - url_height) / 2
    sheet.block(url, y + side + gap, tone=0.85)
    return Box((sheet.width - side) / 2, y, side, side)
