"""Admins issue and revoke integrators' Open311 keys in the back office."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import HiddenInput

from merchants.access import current_staff, roles
from merchants.blueprint import bp
from portal.apikeys import ApiKeyError, issue_key, list_keys, revoke_key
from portal.db import get_session, utcnow


class ApiKeyForm(FlaskForm):
    """Name the integrator a new key is for."""

    name = StringField(
        _l("Integrator"),
        validators=[DataRequired(_l("Name the integrator.")), Length(2, 80, _l("Use 2 to 80 characters."))],
    )


class RevokeForm(FlaskForm):
    """Name the key to revoke."""

    key_id = IntegerField(validators=[DataRequired()], widget=HiddenInput())


def _page(form: ApiKeyForm, new_key: str | None = None, status: int = 200) -> tuple[str, int]:
    """Render the key list with the issue form; a new key is shown this once."""
    page = render_template(
        "office/apikeys.html", keys=list_keys(get_session()), form=form, revoke=RevokeForm(), new_key=new_key
    )
    return page, status


@bp.get("/apikeys")
@roles("admin")
def apikeys() -> tuple[str, int]:
    """List the integrators' keys."""
    return _page(ApiKeyForm())


@bp.post("/apikeys")
@roles("admin")
def apikey_issue() -> tuple[str, int]:
    """Issue a key and show it once; only its hash is kept."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    session = get_session()
    try:
        _row, key = issue_key(session, form.name.data or "", actor=current_staff(), now=utcnow())
    except ApiKeyError:
        form.name.errors = [_("Use 2 to 80 characters.")]
        return _page(form, status=400)
    session.commit()
    return _page(ApiKeyForm(formdata=None), new_key=key)


@bp.post("/apikeys/revoke")
@roles("admin")
def apikey_revoke() -> Response:
    """Revoke a key at once."""
    form = RevokeForm()
    if not form.validate_on_submit() or form.key_id.data is None:
        flash(_("The page expired. Go back, reload and try again."), "error")
        return redirect(url_for("office.apikeys"))
    session = get_session()
    try:
        revoke_key(session, form.key_id.data, actor=current_staff(), now=utcnow())
    except ApiKeyError:
        flash(_("That key does not exist or was already revoked."), "error")
        return redirect(url_for("office.apikeys"))
    session.commit()
    flash(_("The key was revoked."), "info")
    return redirect(url_for("office.apikeys"))
