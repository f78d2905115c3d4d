"""The shopper gives the name and address Order 121 needs: POST /t/<token>/identity."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.db import get_session, utcnow
from portal.filing import IdentityNotRequestedError, awaiting_identity, provide_identity
from portal.lookup import find_by_token
from portal.phones import PhoneError, normalise_mobile
from portal.returns import CHANNELS
from portal.security import limiter
from portal.signals import SignalPolicy

bp = Blueprint("filing", __name__)
# The tracking page asks for identity only while the regulator waits for it.
bp.add_app_template_global(awaiting_identity, "awaiting_identity")
# The ladder's public events, worded by templates/public/_ladder_event.html.
LADDER_KINDS = frozenset(
    {
        "escalated",
        "identity_requested",
        "identity_given",
        "returned",
        "return_told",
        "case_accepted",
        "case_refused",
        "mediation_paused",
        "mediation_resumed",
        "mediation_ended",
        "termination_notified",
        "verify_extended",
    }
)

# On the back-office timeline also the internal ones (templates/office/_ladder_event.html).
OFFICE_LADDER_KINDS = LADDER_KINDS | {
    "reminder",
    "urge",
    "overdue",
    "return_window_closed",
    "deadline_recounted",
    "filing_package",
}


@bp.app_context_processor
def _ladder_words() -> dict[str, object]:
    """Give the timeline templates the ladder's kinds and the return channels' names."""
    return {
        "ladder_kinds": LADDER_KINDS,
        "office_ladder_kinds": OFFICE_LADDER_KINDS,
        "channel_label": lambda code: str(CHANNELS.get(code, code)),
    }


class IdentityForm(FlaskForm):
    """Name and address (and a mobile number if the case has none) for the regulator."""

    name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=60)])
    address = StringField(
        _l("Your address"),
        validators=[
            DataRequired(_l("Enter your address.")),
            Length(5, 200, _l("Enter an address of 5 to 200 characters.")),
        ],
    )
    phone = StringField(_l("Mobile number"), validators=[Length(max=30)])
    phone_required = False

    def validate_phone(self, field: StringField) -> None:
        """Require a mainland mobile when the case has none yet."""
        if not (field.data or "").strip():
            if self.phone_required:
                raise ValidationError(_l("Enter an 11-digit mainland mobile number."))
            return
        try:
            field.data = normalise_mobile(field.data or "")
        except PhoneError as exc:
            raise ValidationError(_l("Enter an 11-digit mainland mobile number.")) from exc


def _limit() -> str:
    return str(current_app.config["RATELIMIT_TRACK"])


@bp.post("/t/<token>/identity")
@limiter.limit(_limit)
def give_identity(token: str) -> Response | tuple[str, int]:
    """Store the shopper's name and address; the regulator's clock starts with them."""
    session = get_session()
    complaint = find_by_token(session, token)
    if complaint is None:
        abort(404)
    form = IdentityForm()
    form.phone_required = not complaint.phone
    if not form.validate_on_submit():
        return render_template("public/identity.html", complaint=complaint, token=token, form=form), 400
    try:
        provide_identity(
            session,
            complaint,
            name=form.name.data or "",
            address=form.address.data or "",
            phone=form.phone.data or None,
            now=utcnow(),
            salt=current_app.config["PHONE_SALT"],
            signals=SignalPolicy.from_config(current_app.config),
        )
    except IdentityNotRequestedError:
        session.rollback()
        return redirect(url_for("tracking.case_page", token=token), code=303)
    session.commit()
    return redirect(url_for("tracking.case_page", token=token) + "#status", code=303)
