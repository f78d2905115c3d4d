"""The shopper's complaint form: /c/<poster_code>, with no account and no login."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.db import begin_write, get_session, utcnow
from portal.forms import ComplaintForm
from portal.intake import IdempotencyConflictError, prepare, submit
from portal.photo_intake import clean_photos, photo_store
from portal.poster_cache import poster_target, revoked_since
from portal.public_support import (
    cached_form_page,
    gone_page,
    read_session,
    render_form,
    spend_ip_limit,
    spend_phone_limit,
    submission_from,
)
from portal.signals import SignalPolicy
from portal.targets import find_poster, shops_in_market

bp = Blueprint("public", __name__)
_SCRIPTS = Path(__file__).resolve().parent / "static_js"


@bp.after_app_request
def _remember_language(response: Response) -> Response:
    """Keep a language chosen with ?lang= for the next pages (the shop picker's links)."""
    asked = request.args.get("lang")
    if asked in ("en", "zh") and request.cookies.get("lang") != asked:
        response.set_cookie(
            "lang",
            asked,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


@bp.get("/js/shrink.js")
def shrink_js() -> Response:
    """Serve the optional script that shrinks photos before upload (CSP: scripts from us only)."""
    return send_file(_SCRIPTS / "shrink.js", mimetype="text/javascript", max_age=24 * 3600)


@bp.get("/")
def home() -> str:
    """Explain the service briefly and offer the case lookup."""
    return render_template("public/home.html")


@bp.get("/c/<code>")
def complaint_form(code: str) -> str | tuple[str, int]:
    """Show the form for a poster, or the shop picker for a market-wide poster."""
    cached = cached_form_page()
    if cached is not None:
        return cached
    session = get_session()
    view, revoked = find_poster(session, code)
    if view is None:
        return gone_page(revoked)
    shop_id = request.args.get("shop", type=int)
    if view.is_market and shop_id is None and view.market is not None:
        query = request.args.get("q", "")[:40]
        shops = shops_in_market(session, view.market.id, query)
        return render_template("public/pick_shop.html", view=view, shops=shops, q=query)
    return render_form(session, view, ComplaintForm(), shop_id)


@bp.post("/c/<code>")
def submit_form(code: str) -> Response | str | tuple[str, int]:
    """Validate, clean the photos, then store the case in one short write transaction."""
    spend_ip_limit()
    form = ComplaintForm()
    shop_id = request.form.get("shop", type=int)
    valid = form.validate_on_submit() and not form.website.data
    found = poster_target(code, shop_id) if valid else None
    if found is None:
        return _refuse(code, form, shop_id)
    sub = submission_from(form)
    spend_phone_limit(code, sub.phone)
    # Photos are decoded before the write transaction starts, so the lock is held briefly.
    clean, refused = clean_photos(form.photos.data)
    config, store = current_app.config, photo_store()
    now = utcnow()
    # Everything that needs no database is done before the write lock is taken.
    session = get_session(begin=False)
    view, target = found.view, found.target
    case = prepare(
        sub, target, now=now, secret=config["SECRET_KEY"], policy=found.policy, calendar=found.calendar
    )
    if not session.in_transaction():  # BEGIN IMMEDIATE: the lock is held for the statements alone
        begin_write(session)
    if revoked_since(session, found):
        session.rollback()
        return _refuse(code, form, shop_id)
    try:
        receipt = submit(
            session,
            sub,
            target,
            photos=clean,
            refused=refused,
            store=store,
            now=now,
            secret=config["SECRET_KEY"],
            salt=config["PHONE_SALT"],
            signals=SignalPolicy.from_config(config),
            calendar=found.calendar,
            policy=found.policy,
            prepared=case,
        )
        session.commit()
    except IdempotencyConflictError:
        session.rollback()
        form.idem.data = secrets.token_urlsafe(24)
        form.form_errors.append(_("This form was already sent. Please check and send again."))
        return render_form(session, view, form, shop_id, status=409)
    return redirect(url_for("tracking.case_page", token=receipt.token, new=1), code=303)


def _refuse(code: str, form: ComplaintForm, shop_id: int | None) -> tuple[str, int]:
    """Answer a dead poster with the gone page, and bad input with the form as typed."""
    with read_session() as reads:
        view, revoked = find_poster(reads, code)
        if view is None:
            return gone_page(revoked)
        return render_form(reads, view, form, shop_id, status=400)
