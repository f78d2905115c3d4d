"""Admins load next year's holidays and make-up working days, and see when a deadline guessed."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import TextAreaField
from wtforms.validators import Length

from merchants.access import current_staff, roles
from merchants.blueprint import bp
from portal.db import get_session, utcnow
from portal.holidays import CalendarWarning, calendar_warning, load_calendar, loaded_years
from portal.workdays import HolidayFileError, parse_holiday_file

MAX_FILE = 256 * 1024  # a year's notice is a few hundred bytes; this is generous


class CalendarForm(FlaskForm):
    """A holiday file, uploaded or pasted (JSON or CSV, see portal.workdays)."""

    file = FileField(_l("Holiday file (JSON or CSV)"))
    text = TextAreaField(_l("Or paste it here"), validators=[Length(max=MAX_FILE)])


def admin_calendar_warning() -> CalendarWarning | None:
    """Return the calendar warning for a signed-in admin (None for anyone else)."""
    if not getattr(current_user, "is_authenticated", False) or current_user.role != "admin":
        return None
    return calendar_warning(get_session(), utcnow()) or None


# The board (and any office page) shows the banner with {% include "office/_calendar_warning.html" %}.
bp.add_app_template_global(admin_calendar_warning, "admin_calendar_warning")


def _page(form: CalendarForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    """Render the loaded years, the warning and the form."""
    session = get_session()
    return render_template(
        "office/calendar.html",
        form=form,
        error=error,
        years=loaded_years(session),
        warning=calendar_warning(session, utcnow()),
    ), status


@bp.get("/calendar")
@roles("admin")
def calendar_page() -> tuple[str, int]:
    """Show which years are loaded and what the calendar had to guess."""
    return _page(CalendarForm())


@bp.post("/calendar")
@roles("admin")
def calendar_load() -> Response | tuple[str, int]:
    """Load the State Council's holidays for a year; running deadlines that guessed are recounted."""
    form = CalendarForm()
    if not form.validate_on_submit():
        return _page(form, _("Please check the form."), 400)
    upload = form.file.data
    raw = upload.read(MAX_FILE + 1) if upload else b""
    text = raw.decode("utf-8", errors="replace") if raw else (form.text.data or "")
    try:
        if len(raw) > MAX_FILE:
            raise HolidayFileError(None, "the file is too large")
        days = parse_holiday_file(text)
    except HolidayFileError as exc:
        return _page(form, _("The file was not loaded: %(problem)s", problem=str(exc)), 400)
    result = load_calendar(
        get_session(), days, user_id=current_staff().id, now=utcnow(), salt=current_app.config["PHONE_SALT"]
    )
    get_session().commit()
    flash(
        _(
            "Loaded %(n)d days for %(years)s; %(m)d running deadlines recounted.",
            n=result.days,
            years=", ".join(map(str, result.years)),
            m=result.recomputed,
        ),
        "ok",
    )
    return redirect(url_for("office.calendar_page"), code=303)
