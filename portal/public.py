"""The shopper's complaint form: /c/<poster_code>, with no account and no login."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.db import get_session, utcnow
from portal.forms import ComplaintForm
from portal.intake import IdempotencyConflictError, submit
from portal.photo_intake import clean_photos, photo_store
from portal.public_support import (
    gone_page,
    ip_limit,
    phone_merchant_key,
    phone_merchant_limit,
    render_form,
    submission_from,
)
from portal.security import limiter
from portal.targets import find_poster, shops_in_market, target_for

bp = Blueprint("public", __name__)


@bp.get("/")
def home() -> str:
    """Explain the service briefly and offer the case lookup."""
    return render_template("public/home.html")


@bp.get("/c/<code>")
def complaint_form(code: str) -> str | tuple[str, int]:
    """Show the form for a poster, or the shop picker for a market-wide poster."""
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
@limiter.limit(ip_limit)
@limiter.limit(
    phone_merchant_limit,
    key_func=phone_merchant_key,
    deduct_when=lambda response: response.status_code == 303,
)
def submit_form(code: str) -> Response | str | tuple[str, int]:
    """Validate, clean the photos, then store the case in one short write transaction."""
    form = ComplaintForm()
    shop_id = request.form.get("shop", type=int)
    valid = form.validate_on_submit() and not form.website.data
    # Photos are decoded before the write transaction starts, so the lock is held briefly.
    clean, refused = clean_photos(form.photos.data) if valid else ([], [])
    session = get_session()
    view, revoked = find_poster(session, code)
    if view is None:
        return gone_page(revoked)
    if not valid:
        return render_form(session, view, form, shop_id, status=400)
    target, _merchant = target_for(session, view, shop_id)
    config = current_app.config
    try:
        receipt = submit(
            session, submission_from(form), target, photos=clean, refused=refused,
            store=photo_store(), now=utcnow(), secret=config["SECRET_KEY"],
            salt=config["PHONE_SALT"],
        )
        session.commit()
    except IdempotencyConflictError:
        session.rollback()
        form.idem.data = secrets.token_urlsafe(24)
        form.form_errors.append(_("This form was already sent. Please check and send again."))
        return render_form(session, view, form, shop_id, status=409)
    return redirect(url_for("tracking.case_page", token=receipt.token, new=1), code=303)
