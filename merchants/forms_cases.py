"""The forms on a complaint's page; each carries the case's version to catch stale pages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from portal.forms import parse_amount
from portal.i18n import SHANGHAI

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def distinct_ids(forms: Mapping[str, FlaskForm]) -> None:
    """Give each action form's fields their own element ids ("note-text", not "text").

    One page carries many forms with fields of the same name; with shared ids the label of the
    internal note focused the public reply box. Only ids change: the posted names stay.
    """
    for action, form in forms.items():
        for field in form:
            field.id = field.label.field_id = f"{action}-{field.name}"


def _check_amount(_form: FlaskForm, field: StringField) -> None:
    """Accept an empty amount or yuan with at most two decimals."""
    try:
        parse_amount(field.data)
    except ValueError as exc:
        raise ValidationError(_l("Enter an amount in yuan, e.g. 128.50.")) from exc


class VersionForm(FlaskForm):
    """A case action: the version of the case the page showed."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class ReplyForm(VersionForm):
    """A public reply, typed or picked from the market's canned replies."""

    canned = RadioField(_l("Quick replies"), choices=[], validate_choice=False)
    text = TextAreaField(_l("Reply to the shopper"), validators=[Length(max=2000)])

    def reply_text(self) -> str:
        """Return the typed text, or the picked canned reply."""
        return (self.text.data or "").strip() or (self.canned.data or "").strip()

    def validate_text(self, _field: TextAreaField) -> None:
        """Require a typed or picked reply."""
        if not self.reply_text():
            raise ValidationError(_l("Write a reply or pick a quick reply."))


class NoteForm(VersionForm):
    """An internal note, never shown to the shopper."""

    text = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=2000)])


class ArrivalForm(VersionForm):
    """When staff reached the shop; empty means now."""

    at = StringField(_l("Arrived at (today, HH:MM; empty for now)"), validators=[Length(max=5)])

    def validate_at(self, field: StringField) -> None:
        """Accept an empty field or a 24-hour time."""
        if (field.data or "").strip() and not _TIME.match(field.data.strip()):
            raise ValidationError(_l("Enter a time like 14:05."))

    def arrival(self, now: datetime) -> datetime:
        """Return the arrival moment: today's Shanghai date at the typed time, or now."""
        match = _TIME.match((self.at.data or "").strip())
        if match is None:
            return now
        day = now.astimezone(SHANGHAI).date()
        local = datetime.combine(day, time(int(match[1]), int(match[2])), tzinfo=SHANGHAI)
        return local.astimezone(now.tzinfo)


class LinkForm(VersionForm):
    """Link a possible duplicate as one case: the other case's number and the version shown."""

    other = StringField(widget=HiddenInput(), validators=[DataRequired(), Length(max=20)])
    other_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class UnlinkForm(VersionForm):
    """Undo a link made by mistake: why, and the version of the case it was merged into."""

    other_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    reason = TextAreaField(
        _l("Why these are not the same matter (staff only)"), validators=[DataRequired(), Length(max=300)]
    )


class ProposeForm(VersionForm):
    """A resolution offered to the shopper."""

    offer = TextAreaField(_l("What is offered"), validators=[DataRequired(), Length(max=1000)])
    amount = StringField(_l("Amount offered (yuan, optional)"), validators=[Length(max=20), _check_amount])


class OutcomeForm(VersionForm):
    """How the case ended and what was recovered."""

    outcome = SelectField(
        _l("Outcome"),
        choices=[
            SelectChoice("self_settled", _l("Self-settled (自行和解)")),
            SelectChoice("mediated", _l("Mediated (调解成功)")),
            SelectChoice("failed", _l("Mediation failed (调解失败)")),
            SelectChoice("not_accepted", _l("Not accepted (不予受理)")),
        ],
        validators=[InputRequired()],
    )
    recovered = StringField(
        _l("Amount recovered for the shopper (yuan)"), validators=[Length(max=20), _check_amount]
    )
    explanation = TextAreaField(_l("Explanation for the shopper (optional)"), validators=[Length(max=1000)])


class HideForm(VersionForm):
    """Hide a case; a reason is required and kept."""

    reason = StringField(_l("Reason for hiding"), validators=[DataRequired(), Length(max=300)])


class CallbackForm(VersionForm):
    """The station's call-back (回访) result."""

    reached = RadioField(
        _l("Did you reach the shopper?"),
        choices=[SelectChoice("yes", _l("Reached")), SelectChoice("no", _l("Not reached"))],
        validators=[InputRequired()],
    )
    satisfied = SelectField(
        _l("Satisfied?"),
        choices=[
            SelectChoice("", _l("Not asked")),
            SelectChoice("yes", _l("Satisfied")),
            SelectChoice("no", _l("Not satisfied")),
        ],
        validators=[Optional()],
    )
    note = TextAreaField(_l("Call-back note"), validators=[Length(max=1000)])


class CannedRepliesForm(FlaskForm):
    """The market's quick replies, one per line."""

    replies = TextAreaField(_l("Quick replies, one per line"), validators=[Length(max=10000)])


class PhoneSearchForm(FlaskForm):
    """Search by phone, posted so the number never appears in a URL or a log."""

    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=30)])
