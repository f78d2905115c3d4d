"""Pieces the shopper's views share: rendering the form, limits, and the gone page."""

from __future__ import annotations

from flask import current_app, render_template, request
from sqlalchemy.orm import Session

from portal.forms import ComplaintForm, parse_amount
from portal.intake import Submission
from portal.models import PosterCode
from portal.phones import PhoneError, normalise_mobile, phone_digest
from portal.policy import policy_for
from portal.targets import PosterView


def render_form(
    session: Session,
    view: PosterView,
    form: ComplaintForm,
    shop_id: int | None,
    status: int = 200,
) -> tuple[str, int]:
    """Render the complaint form for a poster, keeping whatever was typed."""
    merchant = view.merchant
    if merchant is None and shop_id:
        from portal.models import Merchant

        chosen = session.get(Merchant, shop_id)
        if chosen is not None and view.market is not None and chosen.market_id == view.market.id:
            merchant = chosen
    if request.method == "GET" and merchant is not None:
        form.category.data = merchant.category
    unit_id = merchant.unit_id if merchant is not None else view.unit_id
    policy = policy_for(session, unit_id=unit_id, market=view.market)
    page = render_template(
        "public/form.html", form=form, view=view, merchant=merchant, policy=policy,
        shop_id=shop_id if view.is_market else None,
    )
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


def ip_limit() -> str:
    """Return the generous per-address limit: a whole market shares one Wi-Fi address."""
    return str(current_app.config["RATELIMIT_PUBLIC_IP"])


def phone_merchant_limit() -> str:
    """Return the tighter limit per phone and poster."""
    return str(current_app.config["RATELIMIT_SUBMIT_PHONE"])


def phone_merchant_key() -> str:
    """Key the tight limit on a salted phone hash and the poster, never the number itself."""
    code = (request.view_args or {}).get("code", "")
    try:
        phone = normalise_mobile(request.form.get("phone", ""))
    except PhoneError:
        return f"submit:{code}:{request.remote_addr}"
    return f"submit:{code}:{phone_digest(phone, current_app.config['PHONE_SALT'])[:24]}"
