"""Charts drawn on the server as small SVG: readable on a phone, no script, no CDN."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_babel import gettext as _
from markupsafe import Markup, escape

from portal.dashboard import Dashboard
from portal.metrics import RATES

# Drawn 360 units wide, the width of a phone: 13-unit text stays legible there and is
# scaled up (to at most MAX_SHOWN px) on a desktop.
WIDTH = 360
MAX_SHOWN = 600
BAR = "#b3261e"
SECOND = "#2e7d32"
TEXT = "#333"
ON_TIME_KEYS = ("respond", "onsite", "feedback", "closed_on_time")
FONT = 'font-family="PingFang SC,Microsoft YaHei,Noto Sans CJK SC,WenQuanYi Micro Hei,sans-serif"'


def _svg(height: int, body: list[str], title: str) -> Markup:
    """Wrap shapes in a responsive SVG that scales to the screen width."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'width="100%" style="max-width:{MAX_SHOWN}px;height:auto" {FONT} font-size="13">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text part is escaped


def _nice_max(value: int) -> int:
    """Round the axis maximum up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def trend(
    points: Sequence[tuple[date, int, int]], title: str, legend: tuple[str, str], label_format: str = "%m-%d"
) -> Markup:
    """Draw received (bars) and closed (line) per day or week, with a few date labels."""
    height, left, bottom, top = 200, 30, 26, 24
    plot_w, plot_h = WIDTH - left - 6, height - bottom - top
    peak = _nice_max(max([r for _d, r, _c in points] + [c for _d, _r, c in points] + [0]))
    n = max(len(points), 1)
    step = plot_w / n
    body = [
        f'<text x="{left}" y="16" fill="{BAR}">■ {escape(legend[0])}</text>',
        f'<text x="{left + 90}" y="16" fill="{SECOND}">● {escape(legend[1])}</text>',
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" x2="{WIDTH - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">'
            f"{int(peak * fraction)}</text>"
        )
    line = []
    label_every = max(1, -(-n // 5))
    for i, (day, received, closed) in enumerate(points):
        x = left + i * step
        h = plot_h * received / peak
        body.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(step * 0.7, 1):.1f}" height="{h:.1f}" fill="{BAR}">'
            f"<title>{day:%Y-%m-%d}: {received} / {closed}</title></rect>"
        )
        line.append(f"{x + step / 2:.1f},{top + plot_h * (1 - closed / peak):.1f}")
        if i % label_every == 0:
            body.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'fill="{TEXT}">{day.strftime(label_format)}</text>'
            )
    if line:
        body.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="{SECOND}" stroke-width="2.5"/>')
    return _svg(height, body, title)


def bars(items: Sequence[tuple[str, float, str]], title: str, maximum: float | None = None) -> Markup:
    """Draw horizontal bars: (label, value, text shown after the bar); one row per item."""
    row, left = 28, 100
    height = max(row * len(items) + 8, 36)
    peak = maximum if maximum is not None else max([v for _l, v, _t in items] + [1])
    body: list[str] = []
    if not items:
        body.append(f'<text x="10" y="28" fill="{TEXT}">—</text>')
    for i, (label, value, shown) in enumerate(items):
        y = 4 + i * row
        w = (WIDTH - left - 56) * (value / peak if peak else 0)
        body.append(
            f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" fill="{TEXT}">{escape(label[:7])}</text>'
        )
        body.append(f'<rect x="{left}" y="{y + 4}" width="{max(w, 0):.1f}" height="18" fill="{BAR}"/>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 17}" fill="{TEXT}">{escape(shown)}</text>')
    return _svg(height, body, title)


def dashboard_charts(board: Dashboard) -> dict[str, Markup]:
    """Draw the dashboard's four charts: daily and weekly trend, categories, on-time rates."""
    legend = (_("received"), _("closed"))
    timely = [
        (str(rate.label), (rate.compute(board.counts).value or 0) * 100, rate.compute(board.counts).percent())
        for rate in RATES
        if rate.key in ON_TIME_KEYS
    ]
    return {
        "daily": trend(board.days, _("Cases per day"), legend),
        "weekly": trend(board.weeks, _("Cases per week (from Monday)"), legend, "%m-%d"),
        "categories": bars(
            [(label, n, str(n)) for _c, label, n in board.categories], _("Cases by type of problem")
        ),
        "on_time": bars(timely, _("On-time rates"), maximum=100),
    }
