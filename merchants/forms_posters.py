"""The forms of the poster pages: bulk printing, revoking a code, importing merchants."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from qr.layout import LAYOUTS

IMPORT_MAX_BYTES = 5 * 1024 * 1024


class BulkPrintForm(FlaskForm):
    """Print every poster of a market, a unit with everything under it, or the whole scope."""

    scope = SelectField(_l("Which posters"), choices=[], validators=[DataRequired()])
    layout = SelectField(_l("Size"), choices=[SelectChoice(name) for name in LAYOUTS], default="A4")
    fmt = SelectField(
        _l("File"),
        default="pdf",
        choices=[
            SelectChoice("pdf", _l("One PDF, a page per poster (for printing)")),
            SelectChoice("zip", _l("A ZIP of PNG images named by shop (for screens)")),
        ],
    )


class RevokeForm(FlaskForm):
    """Withdraw a poster code that was copied or misused; a reason is required."""

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class ImportUploadForm(FlaskForm):
    """Upload a CSV or XLSX register of merchants to check."""

    register = FileField(
        _l("CSV or XLSX file"),
        validators=[
            FileRequired(),
            FileAllowed(["csv", "xlsx", "txt"], _l("Choose a .csv or .xlsx file.")),
        ],
    )


class ImportConfirmForm(FlaskForm):
    """Import a checked file: all rows, or with the box ticked, only the valid ones."""

    upload = HiddenField(validators=[DataRequired(), Length(max=64)])
    valid_only = BooleanField(_l("Import the valid rows and skip the rest"))
