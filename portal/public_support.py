"""Pieces the shopper's views share: rendering the form, limits, and the gone page."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from flask import current_app, g, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from limits import RateLimitItem, parse
from sqlalchemy.orm import Session
from werkzeug.exceptions import TooManyRequests

from portal.db import new_session
from portal.forms import ComplaintForm, parse_amount
from portal.intake import Submission
from portal.models import PosterCode
from portal.phones import normalise_mobile, phone_digest
from portal.policy import policy_for
from portal.security import limiter
from portal.targets import PosterView, chosen_merchant

# Stand-ins for the per-request values in a cached form page; random, so no shop name can
# contain them.
_CSRF_MARK = f"csrf-{secrets.token_hex(12)}"
_IDEM_MARK = f"idem-{secrets.token_hex(12)}"
_PAGES_MAX = 4096
_PHONE_LIMIT = "kuaisu-phone"
_IP_LIMIT = "kuaisu-ip"


@contextmanager
def read_session() -> Iterator[Session]:
    """Open a session for lookups that takes no write lock; the caller's writes come later."""
    session = new_session()
    try:
        yield session
    finally:
        session.close()


def _page_key() -> tuple[str, bytes, str] | None:
    """Key a form page by path, query and language; odd queries are not cached at all."""
    if set(request.args) - {"shop", "lang"} or len(request.query_string) > 64:
        return None
    return request.path, request.query_string, str(get_locale())


def _fill(page: str) -> str:
    """Put this request's CSRF token and a fresh idempotency key into a cached page."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        page = page.replace(_CSRF_MARK, generate_csrf())
    return page.replace(_IDEM_MARK, secrets.token_urlsafe(24))


def cached_form_page() -> str | None:
    """Return the form page rendered for this poster a moment ago, with fresh tokens.

    Every scan opens the form, so it is rendered once per FORM_CACHE_SECONDS (10 by
    default) and worker; a renamed shop or a revoked poster shows within that time, and a
    post to a revoked poster is refused whatever the form showed.
    """
    key = _page_key()
    pages: dict[object, tuple[float, str]] = current_app.extensions.setdefault("kuaisu.form_pages", {})
    found = pages.get(key) if key is not None else None
    if found is None or found[0] < time.monotonic():
        return None
    return _fill(found[1])


def _remember_page(page: str) -> None:
    """Keep a freshly rendered form page for the next scans."""
    ttl = float(current_app.config.get("FORM_CACHE_SECONDS", 10))
    key = _page_key()
    if ttl <= 0 or key is None:
        return
    pages: dict[object, tuple[float, str]] = current_app.extensions.setdefault("kuaisu.form_pages", {})
    if len(pages) >= _PAGES_MAX:
        pages.clear()
    pages[key] = (time.monotonic() + ttl, page)


def render_form(
    session: Session,
    view: PosterView,
    form: ComplaintForm,
    shop_id: int | None,
    status: int = 200,
) -> tuple[str, int]:
    """Render the complaint form for a poster, keeping whatever was typed."""
    merchant = chosen_merchant(session, view, shop_id)
    if request.method == "GET" and merchant is not None:
        form.category.data = merchant.category
    unit_id = merchant.unit_id if merchant is not None else view.unit_id
    policy = policy_for(session, unit_id=unit_id, market=view.market)
    had_photos = request.method == "POST" and any(f.filename for f in request.files.getlist("photos"))
    fresh = request.method == "GET" and not form.errors
    if fresh:
        form.idem.data = _IDEM_MARK
        if hasattr(form, "csrf_token"):
            form.csrf_token.current_token = _CSRF_MARK
    page = render_template(
        "public/form.html",
        form=form,
        view=view,
        merchant=merchant,
        policy=policy,
        shop_id=shop_id if view.is_market else None,
        had_photos=had_photos,
    )
    if fresh:
        _remember_page(page)
        page = _fill(page)
    return page, status


def gone_page(revoked: PosterCode | None) -> tuple[str, int]:
    """Answer an unknown or revoked poster with the station's and 12315's contacts."""
    market = None
    if revoked is not None:
        market = revoked.market or (revoked.merchant.market if revoked.merchant else None)
    return render_template("public/gone.html", revoked=revoked, market=market), 404


def submission_from(form: ComplaintForm) -> Submission:
    """Turn a validated form into the service's input, normalising phone and amount."""
    phone_text = (form.phone.data or "").strip()
    return Submission(
        kind=form.kind.data or "complaint",
        category=form.category.data or "general",
        description=(form.description.data or "").strip(),
        idempotency_key=form.idem.data or "",
        amount_fen=parse_amount(form.amount.data),
        wish=form.wish.data or None,
        on_site=bool(form.on_site.data),
        phone=normalise_mobile(phone_text) if phone_text else None,
        name=(form.name.data or "").strip() or None,
    )


def phone_merchant_key(code: str, phone: str | None) -> str:
    """Key the tight limit on a salted phone hash and the poster, never the number itself."""
    if phone is None:  # a report without a phone: its address stands in
        return f"submit:{code.upper()}:{request.remote_addr}"
    return f"submit:{code.upper()}:{phone_digest(phone, current_app.config['PHONE_SALT'])[:24]}"


@lru_cache(maxsize=16)
def _limit_item(text: str) -> RateLimitItem:
    return parse(text)


def _spend(limit: str, namespace: str, key: str) -> None:
    """Spend one hit of a limit in Flask-Limiter's own storage and strategy, or refuse (429).

    The count is shared across workers and hosts like every other limit; the refusal's
    Retry-After is the window's reset (portal/security.retry_after reads it from g).
    """
    if not limiter.enabled:
        return
    item = _limit_item(limit)
    if limiter.limiter.hit(item, namespace, key):
        return
    g.kuaisu_retry_at = limiter.limiter.get_window_stats(item, namespace, key).reset_time
    raise TooManyRequests()


def spend_ip_limit() -> None:
    """Count a post against its address's generous limit: a whole market shares one Wi-Fi.

    Every post that passed the CSRF check counts, valid or not, before its form is validated.
    """
    _spend(str(current_app.config["RATELIMIT_PUBLIC_IP"]), _IP_LIMIT, request.remote_addr or "")


def spend_phone_limit(code: str, phone: str | None) -> None:
    """Count a valid complaint against its phone's limit for this poster, or refuse it (429).

    Only a form that passed validation counts, and it counts once, just before the photos
    are decoded and the case is stored, so a phone that has used its turns costs no photo work.
    """
    _spend(str(current_app.config["RATELIMIT_SUBMIT_PHONE"]), _PHONE_LIMIT, phone_merchant_key(code, phone))
