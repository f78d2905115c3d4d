"""The shopper answers on the tracking page: accept or reject an offer, rate a closed case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length
from wtforms.widgets import HiddenInput

from portal.closing import open_proposal, outcome_label, yuan
from portal.db import get_session, utcnow
from portal.lifecycle import LifecycleError, StaleCaseError
from portal.lookup import find_by_token
from portal.models import Complaint, Event
from portal.resolution import (
    AlreadyRatedError,
    NoPendingProposalError,
    accept_proposal,
    rate,
    reject_proposal,
)
from portal.security import limiter

bp = Blueprint("shopper_actions", __name__)


class AnswerForm(FlaskForm):
    """Accept or reject the offer with this sequence number."""

    proposal = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    reason = TextAreaField(_l("Why not? (optional)"), validators=[Length(max=500)])


class RateForm(FlaskForm):
    """Satisfaction from 1 (very unhappy) to 5 (very happy), with a comment."""

    score = RadioField(
        _l("How satisfied are you?"),
        choices=[SelectChoice(str(n), str(n)) for n in range(1, 6)],
        validators=[InputRequired(_l("Choose from 1 to 5."))],
    )
    comment = TextAreaField(_l("Comment (optional)"), validators=[Length(max=500)])


@dataclass(frozen=True)
class ShopperSteps:
    """What the shopper can do on the tracking page right now."""

    offer: Event | None
    can_rate: bool


def shopper_steps(complaint: Complaint) -> ShopperSteps:
    """Return the open offer, and whether a rating is still possible."""
    offer = open_proposal(complaint.events)
    # A merged duplicate is rated through the case it continues in.
    can_rate = complaint.status == "closed" and complaint.rated_at is None and complaint.linked_to_id is None
    return ShopperSteps(offer, can_rate)


@bp.record_once
def _template_helpers(state: Any) -> None:
    """Offer the shopper's open steps and the outcome wording to templates."""
    state.app.jinja_env.globals.update(shopper_steps=shopper_steps, outcome_label=outcome_label, yuan=yuan)


def _track_limit() -> str:
    """Return the tracking pages' rate limit."""
    return str(current_app.config["RATELIMIT_TRACK"])


def _answer(token: str, form: FlaskForm, step: Callable[[Complaint], object], done: str) -> Response:
    """Run one shopper step; any refusal comes back as a message above the buttons."""
    session = get_session()
    complaint = find_by_token(session, token)
    if complaint is None:
        abort(404)
    anchor = "#actions"
    if not form.validate_on_submit():
        flash(_("Please check your answer and send it again."), "error")
    else:
        try:
            step(complaint)
        except LifecycleError as exc:
            session.rollback()
            flash(_refusal(exc), "error")
        else:
            session.commit()
            flash(done, "ok")
            anchor = "#timeline"
    return redirect(url_for("tracking.case_page", token=token) + anchor, code=303)


def _refusal(exc: LifecycleError) -> str:
    """Say why the step was refused, in plain words."""
    if isinstance(exc, AlreadyRatedError):
        return _("You have already rated this case. Thank you.")
    if isinstance(exc, NoPendingProposalError | StaleCaseError):
        return _("The case changed in the meantime. Please look at the latest progress.")
    return _("This is not possible for the case now.")


def _salt() -> str:
    """Return the salt that hashes personal text in the audit chain."""
    return str(current_app.config["PHONE_SALT"])


@bp.post("/t/<token>/accept")
@limiter.limit(_track_limit)
def accept(token: str) -> Response:
    """Accept the proposed resolution."""
    form = AnswerForm()
    return _answer(
        token,
        form,
        lambda c: accept_proposal(
            get_session(), c, proposal_seq=form.proposal.data or 0, now=utcnow(), salt=_salt()
        ),
        _("You accepted the proposed resolution."),
    )


@bp.post("/t/<token>/reject")
@limiter.limit(_track_limit)
def reject(token: str) -> Response:
    """Reject the proposed resolution; the case is handled further."""
    form = AnswerForm()
    return _answer(
        token,
        form,
        lambda c: reject_proposal(
            get_session(),
            c,
            proposal_seq=form.proposal.data or 0,
            reason=form.reason.data or "",
            now=utcnow(),
            salt=_salt(),
        ),
        _("You rejected the proposed resolution. The case is being handled further."),
    )


@bp.post("/t/<token>/rate")
@limiter.limit(_track_limit)
def rate_case(token: str) -> Response:
    """Rate the handling of the closed case, once."""
    form = RateForm()
    return _answer(
        token,
        form,
        lambda c: rate(
            get_session(),
            c,
            score=int(form.score.data or 0),
            comment=form.comment.data or "",
            now=utcnow(),
            salt=_salt(),
        ),
        _("Thank you for your rating."),
    )
