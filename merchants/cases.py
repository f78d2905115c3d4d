"""A complaint's page in the back office: what the shopper sent, photos, timeline, actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from merchants.access import ALL_ROLES, current_staff, get_complaint_or_404, roles
from merchants.blueprint import bp
from merchants.forms_cases import (
    ArrivalForm,
    CallbackForm,
    HideForm,
    NoteForm,
    OutcomeForm,
    ProposeForm,
    ReplyForm,
    UnlinkForm,
    VersionForm,
    distinct_ids,
)
from merchants.signals import case_signals
from portal.closing import OutcomeMissingError, pending_proposal
from portal.db import get_session, utcnow
from portal.duplicates import NotDuplicateError, NotLinkedError
from portal.lifecycle import (
    ActionNotAllowedError,
    AlreadyTakenError,
    ArrivalTimeError,
    CaseClosedError,
    LifecycleError,
    StaleCaseError,
    allowed,
)
from portal.models import Complaint, Event, User
from portal.photo_intake import photo_store
from portal.status import case_status

F = TypeVar("F", bound=FlaskForm)
Page = str | tuple[str, int] | Response


@dataclass
class Act:
    """Everything an action's service call needs, gathered by the view."""

    session: Session
    complaint: Complaint
    user: User
    form: Any
    now: datetime
    salt: str

    @property
    def stamp(self) -> dict[str, Any]:
        """Return the keyword arguments every staff service takes."""
        return {"version": self.form.version.data, "now": self.now, "salt": self.salt}


def _forms(complaint: Complaint) -> dict[str, FlaskForm]:
    """Build a fresh form per action, each holding the case's current version."""
    # formdata=None: after a refused POST, the other forms must not pick up what was posted
    # (least of all its outdated version).
    forms: dict[str, FlaskForm] = {
        name: form_class(formdata=None)
        for name, form_class in (
            ("take", VersionForm),
            ("reply", ReplyForm),
            ("note", NoteForm),
            ("arrive", ArrivalForm),
            ("propose", ProposeForm),
            ("outcome", OutcomeForm),
            ("close", VersionForm),
            ("hide", HideForm),
            ("callback", CallbackForm),
            ("unlink", UnlinkForm),
        )
    }
    for form in forms.values():
        form.version.data = complaint.version  # type: ignore[attr-defined]
    return forms


def _actor_names(session: Session, events: list[Event], complaint: Complaint) -> dict[int, str]:
    """Return display names of the staff in the timeline and the taker."""
    ids = {e.actor_id for e in events if e.actor_id} | {complaint.assignee_id or 0}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    return {i: n for i, n in rows}


def render_case(
    session: Session,
    complaint: Complaint,
    user: User,
    *,
    error: str | None = None,
    status: int = 200,
    failed: Mapping[str, FlaskForm] | None = None,
) -> tuple[str, int]:
    """Render the page; a refused form is shown again with its errors."""
    forms = _forms(complaint)
    forms.update(failed or {})
    distinct_ids(forms)
    canned = complaint.market.canned_replies if complaint.market is not None else None
    forms["reply"].canned.choices = [SelectChoice(r, r) for r in canned or []]  # type: ignore[attr-defined]
    now = utcnow()
    events = list(
        session.scalars(select(Event).where(Event.complaint_id == complaint.id).order_by(Event.seq))
    )
    page = render_template(
        "office/complaint.html",
        complaint=complaint,
        user=user,
        forms=forms,
        error=error,
        now=now,
        status=case_status(complaint, now),
        events=events,
        names=_actor_names(session, events, complaint),
        may=lambda a: allowed(user, a),
        offer=pending_proposal(session, complaint),
        photos=[a for a in complaint.attachments if a.status == "ready"],
        signals=case_signals(session, complaint, user),
    )
    return page, status


@bp.get("/complaints/<case_number>")
@roles(*ALL_ROLES)
def complaint(case_number: str) -> Page:
    """Show one case to a user whose scope holds it."""
    session, user = get_session(), current_staff()
    return render_case(session, get_complaint_or_404(session, user, case_number), user)


@bp.get("/complaints/<case_number>/photos/<int:photo_id>")
@roles(*ALL_ROLES)
def complaint_photo(case_number: str, photo_id: int) -> Response:
    """Serve a photo of a case in the user's scope; anything else is a 404."""
    session = get_session()
    case = get_complaint_or_404(session, current_staff(), case_number)
    match = [a for a in case.attachments if a.id == photo_id and a.status == "ready"]
    if not match:
        abort(404)
    data = photo_store().get(match[0].storage_key)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


def _refusal(exc: LifecycleError) -> tuple[str, int]:
    """Say in plain words why an action was refused, with its HTTP status."""
    if isinstance(exc, StaleCaseError):
        return _("Someone else changed this case. Here is its current state; check it and try again."), 409
    if isinstance(exc, ActionNotAllowedError):
        return _("Your role may not do this."), 403
    if isinstance(exc, CaseClosedError):
        return _("The case is closed."), 409
    if isinstance(exc, AlreadyTakenError):
        return _("Someone already took this case."), 409
    if isinstance(exc, OutcomeMissingError):
        return _("Record the outcome before closing the case."), 400
    if isinstance(exc, NotDuplicateError):
        return _(
            "These cases cannot be linked: both must be open, from the same mobile number, about "
            "the same shop, sent within the duplicate window, and not linked already."
        ), 409
    if isinstance(exc, NotLinkedError):
        return _("This case is not linked into another case, or it is hidden: there is no link to undo."), 409
    if isinstance(exc, ArrivalTimeError):
        return _("The arrival time must be today, not in the future, and not before the case."), 400
    return _("This step does not fit the case now."), 400


def perform(
    case_number: str, name: str, form_class: type[F], step: Callable[[Act], object], done: str
) -> Page:
    """Validate the action's form, run its service, commit; stale or refused re-renders."""
    session, user = get_session(), current_staff()
    case = get_complaint_or_404(session, user, case_number)
    form = form_class()
    if name == "reply" and case.market is not None:
        form.canned.choices = [SelectChoice(r, r) for r in case.market.canned_replies or []]  # type: ignore[attr-defined]
    if not form.validate_on_submit():
        return render_case(
            session, case, user, error=_("Please check the form."), status=400, failed={name: form}
        )
    try:
        step(Act(session, case, user, form, utcnow(), current_app.config["PHONE_SALT"]))
    except LifecycleError as exc:
        session.rollback()
        message, status = _refusal(exc)
        case = get_complaint_or_404(session, user, case_number)
        # Keep what was typed, against the case as it is now, so it can be sent again.
        form.version.data = case.version  # type: ignore[attr-defined]
        form.version.raw_data = [str(case.version)]  # type: ignore[attr-defined]
        return render_case(session, case, user, error=message, status=status, failed={name: form})
    session.commit()
    flash(done, "ok")
    return redirect(url_for("office.complaint", case_number=case_number), code=303)
