"""Poster pages: the list of printable posters, one poster as PDF or PNG, revoking a code."""

from __future__ import annotations

import io
from typing import cast

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from merchants.access import (
    ALL_ROLES,
    current_staff,
    get_market_or_404,
    get_merchant_or_404,
    get_poster_or_404,
    market_scope,
    merchant_scope,
    roles,
    unit_subtree,
)
from merchants.blueprint import bp
from merchants.forms_posters import BulkPrintForm, RevokeForm
from portal.db import get_session, utcnow
from portal.models import User
from portal.poster_index import market_rows, merchant_rows, recent_jobs, unit_choices
from portal.posters import AlreadyRevokedError, market_poster, merchant_poster, revoke_poster
from qr.fonts import FontNotFoundError
from qr.layout import LAYOUTS, Layout, PosterInfo
from qr.poster import render_pdf, render_png

BULK_ROLES = ("station", "regulator", "admin")
_MIMETYPES = {"pdf": "application/pdf", "png": "image/png"}


def scope_choices(user: User) -> list[SelectChoice]:
    """Return what the user may print in bulk: the whole scope, units, then markets."""
    session = get_session()
    choices = [SelectChoice("all", _("Everything in my area"))]
    if user.role in ("regulator", "admin"):
        units = unit_subtree(session, user.unit_id) if user.unit_id is not None else None
        group = _("Regulator units")
        choices += [
            SelectChoice(f"unit:{id_}", _("%(unit)s and everything under it", unit=name), optgroup=group)
            for id_, name in unit_choices(session, units)
        ]
    group = _("Markets")
    choices += [
        SelectChoice(f"market:{row.id}", row.name, optgroup=group)
        for row in market_rows(session, market_scope(session, user))
    ]
    return choices


def render_index(form: BulkPrintForm | None = None, status: int = 200) -> tuple[str, int]:
    """Render the poster list with the bulk-print form (re-shown with errors on a bad post)."""
    session, user = get_session(), current_staff()
    query, after = request.args.get("q", "")[:40], request.args.get("after", 0, type=int)
    if form is None and user.role in BULK_ROLES:
        form = BulkPrintForm()
    if form is not None:
        form.scope.choices = scope_choices(user)
    merchants = merchant_rows(session, merchant_scope(session, user), query=query, after=after)
    page = render_template(
        "office/posters.html",
        user=user,
        form=form,
        revoke_form=RevokeForm(),
        query=query,
        markets=market_rows(session, market_scope(session, user)),
        merchants=merchants,
        jobs=recent_jobs(session, user.id),
        layouts=LAYOUTS,
        can_revoke=user.role in BULK_ROLES,
        next_after=merchants[-1].id if len(merchants) >= 50 else None,
    )
    return page, status


@bp.get("/posters")
@roles(*ALL_ROLES)
def posters_index() -> tuple[str, int]:
    """List the posters in the user's scope with download links and the bulk-print form."""
    return render_index()


def _send_poster(info: PosterInfo, fmt: str) -> Response:
    """Render one poster in the asked layout and send it as a download."""
    layout = cast(Layout, request.args.get("layout", "A4"))
    if fmt not in _MIMETYPES or layout not in LAYOUTS:
        abort(404)
    try:
        if fmt == "pdf":
            out = io.BytesIO()
            render_pdf(info, layout, out)
            data = out.getvalue()
        else:
            data = render_png(info, layout)
    except FontNotFoundError as exc:
        current_app.logger.error("poster font missing: %s", exc)
        abort(503, description=_("Posters cannot be made: the Chinese font is not installed."))
    return send_file(
        io.BytesIO(data),
        mimetype=_MIMETYPES[fmt],
        as_attachment=True,
        download_name=f"poster-{info.poster_code}-{layout}.{fmt}",
    )


@bp.get("/posters/merchant/<int:merchant_id>.<fmt>")
@roles(*ALL_ROLES)
def merchant_poster_file(merchant_id: int, fmt: str) -> Response:
    """Send one merchant's poster as PDF or PNG (?layout=A4|A5|A6)."""
    session = get_session()
    merchant = get_merchant_or_404(session, current_staff(), merchant_id)
    return _send_poster(merchant_poster(session, merchant, current_app.config["BASE_URL"]), fmt)


@bp.get("/posters/market/<int:market_id>.<fmt>")
@roles(*BULK_ROLES)
def market_poster_file(market_id: int, fmt: str) -> Response:
    """Send a market-wide poster (scan, then choose the shop) as PDF or PNG."""
    session = get_session()
    market = get_market_or_404(session, current_staff(), market_id)
    return _send_poster(market_poster(session, market, current_app.config["BASE_URL"]), fmt)


@bp.post("/posters/<code>/revoke")
@roles(*BULK_ROLES)
def revoke(code: str) -> Response | tuple[str, int]:
    """Withdraw a copied or misused poster code and issue its owner a new one."""
    session = get_session()
    poster = get_poster_or_404(session, current_staff(), code)
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Give a reason to revoke a poster code."), "error")
        return redirect(url_for("office.posters_index", q=poster.code), code=303)
    try:
        fresh = revoke_poster(session, poster, reason=form.reason.data or "", now=utcnow())
    except AlreadyRevokedError:
        flash(_("This poster code was already revoked."), "error")
        return redirect(url_for("office.posters_index"), code=303)
    session.commit()
    flash(
        _(
            "Poster code %(old)s is revoked. The new code is %(new)s: print and put up the new poster.",
            old=poster.code,
            new=fresh.code,
        ),
        "ok",
    )
    return redirect(url_for("office.posters_index", q=fresh.code), code=303)
