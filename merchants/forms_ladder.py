"""The forms of the ladder page: escalate, return, the regulator's Order 121 steps."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from merchants.forms_cases import VersionForm
from portal.regulator import PAUSE_CAUSES
from portal.returns import CHANNELS, MAX_REASON, MIN_REASON


class EscalateForm(VersionForm):
    """Pass the case one rung up by hand, saying why."""

    reason = TextAreaField(
        _l("Why the next rung should take it"),
        validators=[DataRequired(_l("Write the reason.")), Length(max=500)],
    )


class ReasonChannelForm(VersionForm):
    """A return or a refusal: a real reason and where the shopper can turn instead."""

    reason = TextAreaField(
        _l("Reason the shopper will read"),
        validators=[
            DataRequired(_l("Write the reason.")),
            Length(
                MIN_REASON,
                MAX_REASON,
                _l(
                    'Write %(min)d to %(max)d characters: a bare "not our business" is not a reason.',
                    min=MIN_REASON,
                    max=MAX_REASON,
                ),
            ),
        ],
    )
    channel = SelectField(
        _l("Where the shopper can turn"),
        choices=[SelectChoice(code, label) for code, label in CHANNELS.items()],
        validators=[InputRequired()],
    )


class PauseForm(VersionForm):
    """Pause mediation while testing or appraisal runs."""

    cause = RadioField(
        _l("Paused for"),
        default="testing",
        validators=[InputRequired()],
        choices=[
            SelectChoice(PAUSE_CAUSES[0], _l("Testing")),
            SelectChoice(PAUSE_CAUSES[1], _l("Appraisal")),
        ],
    )
