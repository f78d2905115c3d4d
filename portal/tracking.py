"""The shopper's receipt and tracking page, and the lookup by case number."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.caseclocks import CaseClocks
from portal.db import get_session, utcnow
from portal.followup import add_information
from portal.forms import FollowUpForm, TrackForm
from portal.lookup import find_by_token, lookup_case, public_timeline, receipt_token
from portal.models import Complaint
from portal.photo_intake import clean_photos, photo_store
from portal.policy import policy_for, work_calendar
from portal.security import limiter
from portal.status import case_status, ladder_note, promised_steps, rung_steps

bp = Blueprint("tracking", __name__)


def _track_limit() -> str:
    return str(current_app.config["RATELIMIT_TRACK"])


def _secrets() -> list[str]:
    """Return the current secret and the earlier ones that still open old receipt links."""
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]


def _continuing(complaint: Complaint) -> tuple[str, str | None] | None:
    """Return the number and receipt token of the case a merged duplicate continues in.

    Only cases of the same mobile number are linked (portal/duplicates.py), so the holder of
    this receipt is the shopper of that case too.
    """
    primary = complaint.linked_to
    if primary is None:
        return None
    return primary.case_number, receipt_token(primary, _secrets())


def _case_page(complaint: Complaint, token: str, form: FollowUpForm, *, new: bool = False) -> str:
    """Render status, promise, public timeline and the add-information form."""
    session, now = get_session(), utcnow()
    steps: list[str] = []
    handover = ladder_note(complaint, now) if complaint.status != "closed" else None
    if complaint.status == "new" and handover is not None:
        # The case climbed the ladder: the new rung's own clocks, not the merchant's promise.
        steps = rung_steps(complaint, CaseClocks(session, now).running(complaint), now)
    elif complaint.status == "new":
        policy = policy_for(session, unit_id=complaint.unit_id, market=complaint.market)
        steps = promised_steps(complaint, policy, work_calendar(session), now)
    return render_template(
        "public/track.html",
        complaint=complaint,
        token=token,
        now=now,
        steps=steps,
        handover=handover,
        status=case_status(complaint, now),
        events=public_timeline(complaint),
        form=form,
        new=new,
        continues=_continuing(complaint),
    )


@bp.get("/t/<token>")
def case_page(token: str) -> str:
    """Show status, the public timeline and the running clock to the token holder."""
    complaint = find_by_token(get_session(), token)
    if complaint is None:
        abort(404)
    return _case_page(complaint, token, FollowUpForm(), new=request.args.get("new") == "1")


@bp.post("/t/<token>/info")
@limiter.limit(_track_limit)
def add_info(token: str) -> Response | tuple[str, int]:
    """Add the shopper's extra information and photos to the case."""
    form = FollowUpForm()
    valid = form.validate_on_submit()
    # Photos are decoded before the write transaction starts, so the lock is held briefly.
    clean, refused = clean_photos(form.photos.data) if valid else ([], [])
    session = get_session()
    complaint = find_by_token(session, token)
    if complaint is None:
        abort(404)
    if not valid:
        return _case_page(complaint, token, form), 400
    add_information(
        session,
        complaint,
        form.message.data or "",
        photos=clean,
        refused=refused,
        store=photo_store(),
        now=utcnow(),
        salt=current_app.config["PHONE_SALT"],
        idem=form.idem.data or "",
    )
    session.commit()
    return redirect(url_for("tracking.case_page", token=token) + "#timeline", code=303)


@bp.get("/t/<token>/photos/<int:photo_id>")
def photo(token: str, photo_id: int) -> Response:
    """Serve one of the case's photos to the holder of its token."""
    complaint = find_by_token(get_session(), token)
    match = [a for a in complaint.attachments if a.id == photo_id] if complaint else []
    if not match or match[0].status != "ready":
        abort(404)
    try:
        data = photo_store().get(match[0].storage_key)
    except OSError:
        abort(404)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(_track_limit, methods=["POST"])
def track() -> Response | str | tuple[str, int]:
    """Find a case by its number and the phone's last four digits; one answer for any miss."""
    form = TrackForm()
    if not form.validate_on_submit():
        return render_template("public/lookup.html", form=form), 400 if form.is_submitted() else 200
    token = lookup_case(get_session(), form.case_number.data or "", form.last4.data or "", secrets=_secrets())
    if token is None:
        # One answer for any miss, with nothing typed echoed back: the page says no more
        # about a wrong number than about wrong digits.
        form.case_number.data, form.last4.data = "", ""
        form.form_errors.append(_("No case matches this number and these digits."))
        return render_template("public/lookup.html", form=form), 404
    return redirect(url_for("tracking.case_page", token=token), code=303)
