"""The shopper's forms, with the limits that keep a public form safe."""

from __future__ import annotations

import secrets
import unicodedata
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from portal.categories import CATEGORIES
from portal.phones import PhoneError, normalise_mobile

WISHES = {
    "refund": _l("Refund"),
    "exchange": _l("Exchange"),
    "repair": _l("Repair"),
    "compensation": _l("Compensation"),
    "apology": _l("Apology"),
    "other": _l("Other"),
}
MAX_AMOUNT = Decimal("10000000")
# Control characters (NUL above all, which PostgreSQL refuses in text) never come from a
# person typing; line breaks and tabs do.
_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\n\t") | {0x7F: None}


def clean_text(value: object) -> object:
    """Drop control characters from typed text, keeping line breaks."""
    return value.translate(_CONTROL) if isinstance(value, str) else value


def parse_amount(raw: str | None) -> int | None:
    """Turn typed yuan (full-width digits allowed) into fen; None when left empty."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(",", "").rstrip("元")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT or value != round(value, 2):
        raise ValueError("out of range")
    return int(value * 100)


class ComplaintForm(FlaskForm):
    """What a shopper tells us about a shop, in about a minute."""

    kind = RadioField(
        _l("What do you want?"),
        choices=[
            SelectChoice("complaint", _l("Complaint: I want it settled")),
            SelectChoice("report", _l("Report: point out a violation (may be anonymous)")),
        ],
        default="complaint",
        validators=[InputRequired(_l("Choose complaint or report."))],
    )
    category = SelectField(_l("Type of problem"), choices=[])
    description = TextAreaField(
        _l("What happened?"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Please tell us what happened.")),
            Length(10, 2000, _l("Please write between 10 and 2000 characters.")),
        ],
    )
    amount = StringField(
        _l("Amount involved (yuan, optional)"), filters=[clean_text], validators=[Length(max=20)]
    )
    wish = SelectField(
        _l("What would you like? (optional)"),
        choices=[SelectChoice("", _l("Not sure"))]
        + [SelectChoice(code, label) for code, label in WISHES.items()],
        validators=[Optional()],
    )
    on_site = BooleanField(_l("I am at the shop now"))
    phone = StringField(_l("Mobile number"), filters=[clean_text], validators=[Length(max=30)])
    name = StringField(_l("Your name (optional)"), filters=[clean_text], validators=[Length(max=60)])
    photos = MultipleFileField(_l("Photos (up to 6, optional)"))
    consent = BooleanField(
        _l("I agree that my number is used only to handle this case."),
    )
    # A field without a label makes WTForms load its own catalogue from disk on every request.
    website = StringField("Website", validators=[Length(max=200)])  # honeypot: people never see it
    idem = HiddenField("", validators=[Length(max=64)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice(code, label) for code, (_zh, label) in CATEGORIES.items()]
        if not self.idem.data:
            self.idem.data = secrets.token_urlsafe(24)

    def validate_amount(self, field: StringField) -> None:
        """Accept an empty amount or yuan with at most two decimals."""
        try:
            parse_amount(field.data)
        except ValueError as exc:
            raise ValidationError(_l("Enter an amount in yuan, e.g. 128.50.")) from exc

    def validate_phone(self, field: StringField) -> None:
        """Require a mainland mobile for a complaint; a report may stay anonymous."""
        if not (field.data or "").strip():
            if self.kind.data == "complaint":
                raise ValidationError(_l("A complaint needs your mobile number."))
            return
        try:
            normalise_mobile(field.data or "")
        except PhoneError as exc:
            raise ValidationError(_l("Enter an 11-digit mainland mobile number.")) from exc

    def validate_consent(self, field: BooleanField) -> None:
        """Require consent whenever a phone or a name is given."""
        gives_identity = bool((self.phone.data or "").strip() or (self.name.data or "").strip())
        if gives_identity and not field.data:
            raise ValidationError(_l("Please agree to the privacy notice."))

    def validate_photos(self, field: MultipleFileField) -> None:
        """Refuse more than six photos."""
        if len([f for f in field.data or [] if getattr(f, "filename", "")]) > 6:
            raise ValidationError(_l("Send at most 6 photos."))


class TrackForm(FlaskForm):
    """Find a case by its number and the last four digits of the phone."""

    case_number = StringField(
        _l("Case number"), validators=[DataRequired(_l("Enter the case number.")), Length(max=24)]
    )
    last4 = StringField(
        _l("Last 4 digits of your mobile"),
        filters=[lambda v: unicodedata.normalize("NFKC", v).strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(_l("Enter 4 digits.")),
            Regexp(r"^[0-9]{4}$", message=_l("Enter 4 digits.")),
        ],
    )


class FollowUpForm(FlaskForm):
    """More information or photos from the shopper on the tracking page."""

    message = TextAreaField(
        _l("What else should we know?"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Please write something.")),
            Length(2, 2000, _l("Please write between 2 and 2000 characters.")),
        ],
    )
    photos = MultipleFileField(_l("Photos (optional)"))
    idem = HiddenField("", validators=[Length(max=64)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not self.idem.data:
            self.idem.data = secrets.token_urlsafe(24)

    def validate_photos(self, field: MultipleFileField) -> None:
        """Refuse more than six photos."""
        if len([f for f in field.data or [] if getattr(f, "filename", "")]) > 6:
            raise ValidationError(_l("Send at most 6 photos."))
