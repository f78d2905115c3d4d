"""Forms for signing in, the second factor, opening accounts and changing a password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from merchants.accounts import MAX_PASSWORD, MIN_PASSWORD

ROLE_LABELS = {
    "merchant": _l("Merchant staff"),
    "station": _l("Rights station"),
    "regulator": _l("Regulator"),
    "admin": _l("Admin"),
}


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class CodeForm(FlaskForm):
    """The six digits an authenticator app shows."""

    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s*\d{3}\s*$", message=_l("Type the 6 digits."))],
    )


class NewUserForm(FlaskForm):
    """An account for someone below the creator; the scope choice implies the role."""

    # The service checks the choice against the creator's scope (404/403), not the list.
    scope = SelectField(_l("Account for"), validators=[DataRequired()], validate_choice=False)
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(min=3, max=60)],
        description=_l("Lower-case letters, digits, dots, dashes or underscores."),
    )
    display_name = StringField(_l("Name shown to colleagues"), validators=[Optional(), Length(max=60)])
    email = EmailField(_l("Email (optional)"), validators=[Optional(), Length(max=120)])
    password = PasswordField(
        _l("First password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)],
        description=_l("At least 10 characters. Tell it to the person in private."),
    )


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)]
    )
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new", _l("The two do not match."))]
    )
