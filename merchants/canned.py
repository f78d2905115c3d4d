"""The station keeps its market's quick replies, offered on every case's reply form."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from merchants.access import current_staff, get_market_or_404, roles
from merchants.blueprint import bp
from merchants.forms_cases import CannedRepliesForm
from portal.db import get_session
from portal.lifecycle import ACTION_ROLES, set_canned_replies


@bp.route("/replies", methods=["GET", "POST"])
@roles(*ACTION_ROLES["canned"])
def canned_replies() -> Response | str | tuple[str, int]:
    """Show and save the station's market's quick replies, one per line."""
    session, user = get_session(), current_staff()
    if user.market_id is None:
        abort(404)
    market = get_market_or_404(session, user, user.market_id)
    form = CannedRepliesForm()
    if form.validate_on_submit():
        set_canned_replies(session, market, user, (form.replies.data or "").splitlines())
        session.commit()
        flash(_("Quick replies saved."), "ok")
        return redirect(url_for("office.canned_replies"), code=303)
    if not form.is_submitted():
        form.replies.data = "\n".join(market.canned_replies or [])
    page = render_template("office/canned.html", form=form, market=market)
    return (page, 400) if form.is_submitted() else page
