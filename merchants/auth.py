"""Signing in and out of the back office: password, then a one-time code where required."""

from __future__ import annotations

from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from merchants.access import ALL_ROLES, public, roles
from merchants.accounts import LoginRefusedError, authenticate, normalise_username
from merchants.blueprint import bp
from merchants.forms_auth import CodeForm, LoginForm
from merchants.sessions import PENDING, begin_pending, end_session, pending, start_session
from merchants.throttle import login_throttle
from merchants.twofactor import clean_code, enrol_totp, needs_totp, new_secret, otpauth_uri, verify_totp
from portal.db import get_session, utcnow
from portal.models import User

LANDING = "/office/"
Page = tuple[str, int]


def safe_next(raw: str | None) -> str | None:
    """Accept only a path inside the back office as the place to return to, never another site."""
    if not raw or "\\" in raw or raw.startswith("//"):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith(LANDING):
        return None
    return raw


def blocked_message() -> str:
    """Say why the account is refused for now."""
    return _("Too many failed sign-ins for this account. Wait one minute, then try again.")


def _login_page(form: LoginForm, error: str | None = None, status: int = 200) -> Page:
    return render_template("office/login.html", form=form, error=error), status


@bp.get("/login")
@public
def login_form() -> Response | Page:
    """Show the sign-in form (or go straight in when already signed in)."""
    if current_user.is_authenticated:
        return redirect(LANDING)
    return _login_page(LoginForm())


@bp.post("/login")
@public
def login() -> Response | Page:
    """Check the password, counting failures per account; then the code step or the office."""
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form, status=400)
    now, username = utcnow(), normalise_username(form.username.data or "")
    throttle = login_throttle()
    if throttle.blocked(username, now):
        return _login_page(form, blocked_message(), 429)
    session = get_session()
    try:
        user = authenticate(session, username, form.password.data or "")
    except LoginRefusedError:
        throttle.record_failure(username, now)
        return _login_page(form, _("Wrong username or password."))
    session.commit()  # an outdated hash may have been upgraded
    back = safe_next(request.args.get("next"))
    if needs_totp(user):
        begin_pending(user, now, back)
        return redirect(url_for("office.totp_form"))
    start_session(user, now)
    return redirect(back or LANDING)


def _qr_svg(uri: str) -> Markup:
    """Draw the otpauth URI as an inline SVG QR code for the authenticator app to scan."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    return Markup(image.to_string(encoding="unicode"))  # noqa: S704  (our own SVG, no user text)


def _code_page(
    user: User, state: dict[str, str], form: CodeForm, error: str | None = None, status: int = 200
) -> Page:
    """Render the code step; an account without a secret first sees the one to enrol."""
    secret = None if user.totp_secret else state.get("secret")
    uri = otpauth_uri(user.username, secret) if secret else None
    page = render_template(
        "office/totp.html", form=form, error=error, secret=secret, uri=uri, qr=_qr_svg(uri) if uri else None
    )
    return page, status


def _restart() -> Response:
    flash(_("Please sign in again."), "error")
    return redirect(url_for("office.login_form"))


@bp.get("/login/code")
@public
def totp_form() -> Response | Page:
    """Ask for the one-time code, offering a new secret to enrol if the account has none."""
    waiting = pending(utcnow())
    if waiting is None:
        return _restart()
    user, state = waiting
    if not user.totp_secret and not state.get("secret"):
        state["secret"] = new_secret()
        cookie[PENDING] = state
    return _code_page(user, state, CodeForm())


@bp.post("/login/code")
@public
def totp() -> Response | Page:
    """Accept a code once (enrolling the secret if new), then open the office."""
    now = utcnow()
    waiting = pending(now)
    if waiting is None:
        return _restart()
    user, state = waiting
    form = CodeForm()
    if not form.validate_on_submit():
        return _code_page(user, state, form, status=400)
    throttle, session = login_throttle(), get_session()
    if throttle.blocked(user.username, now):
        return _code_page(user, state, form, blocked_message(), 429)
    code = clean_code(form.code.data or "")
    if user.totp_secret:
        accepted = verify_totp(session, user, code, now)
    else:
        accepted = bool(state.get("secret")) and enrol_totp(session, user, state["secret"], code, now)
    if not accepted:
        throttle.record_failure(user.username, now)
        return _code_page(
            user,
            state,
            form,
            _("That code is wrong or was already used. Wait for the next code and try again."),
        )
    session.commit()
    start_session(user, now)
    return redirect(safe_next(state.get("next")) or LANDING)


@bp.post("/logout")
@roles(*ALL_ROLES)
def logout() -> Response:
    """Sign out and forget the session."""
    end_session()
    flash(_("You have signed out."))
    return redirect(url_for("office.login_form"))
