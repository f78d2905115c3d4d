"""GET /public/disclosure: the monthly figures anyone may read, served from a cache.

A spike of visitors costs one computation per worker per TTL (portal.disclosure_cache):
rendered pages are kept by (month, market, locale), whole responses are replayed before
Flask runs, and browsers and proxies may keep them for the TTL too. The page reads no
session and sets no cookie, so every visitor gets the same bytes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask_babel import get_locale

from portal.db import new_session, utcnow
from portal.disclosure import OUTSIDE_MARKETS, NoSuchMonthError, disclosure, recent_months
from portal.disclosure_cache import PageCache, ResponseReplay
from portal.i18n import SHANGHAI
from portal.security import limiter

bp = Blueprint("disclosure", __name__)
PATH = "/public/disclosure"


CACHE = PageCache()


def _ttl(app: Flask) -> float:
    return float(app.config.get("DISCLOSURE_CACHE_SECONDS", 300))


def _install_replay(app: Any) -> None:
    """Put the response replay in front of the app (once, when the blueprint is registered)."""
    app.wsgi_app = ResponseReplay(app.wsgi_app, PATH, _ttl(app))


bp.record_once(lambda state: _install_replay(state.app))


def _render(month: str, market: int | None) -> bytes:
    """Compute and render one page in its own read-only session."""
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    with new_session() as session:
        try:
            page = disclosure(
                session,
                month,
                now=now,
                today=today,
                market=market,
                minimum=int(current_app.config["DISCLOSURE_MIN_CASES"]),
            )
        except NoSuchMonthError:
            abort(404)
        if market is not None and market != OUTSIDE_MARKETS and not page.total.name:
            abort(404)
        html = render_template(
            "public/disclosure.html",
            page=page,
            months=recent_months(today),
            outside=OUTSIDE_MARKETS,
            market=market,
        )
    return html.encode()


@bp.get(PATH)
@limiter.exempt  # a cached page costs nothing; counting visitors would cost more than serving them
def disclosure_page() -> Response:
    """Show a month's complaints per market (or per shop of one market); no login."""
    today = utcnow().astimezone(SHANGHAI).date()
    month = request.args.get("month", "") or recent_months(today, 2)[1]
    raw_market = request.args.get("market", "")
    if len(month) != 7 or not (raw_market == "" or raw_market.isdigit()):
        abort(404)
    market = int(raw_market) if raw_market else None
    ttl = _ttl(current_app)
    key = (month, raw_market, str(get_locale()))
    body = CACHE.get_or_build(key, ttl, lambda: _render(month, market))
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = f"public, max-age={int(ttl)}"
    # The language follows Accept-Language or the lang cookie; nothing else changes the page.
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response
