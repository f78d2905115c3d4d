"""Staff pages: list the accounts below me, open one, disable one, reset a second factor."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from merchants.access import ALL_ROLES, current_staff, roles
from merchants.accounts import (
    AccountError,
    LoginRefusedError,
    OutOfScopeError,
    RoleNotAllowedError,
    authenticate,
    create_user,
    disable_user,
    enable_user,
    set_password,
)
from merchants.auth import blocked_message
from merchants.blueprint import bp, forbidden
from merchants.forms_auth import ROLE_LABELS, NewUserForm, PasswordForm
from merchants.sessions import start_session
from merchants.staffquery import account_from_choice, account_page, scope_choices
from merchants.throttle import login_throttle
from merchants.twofactor import TOTP_ROLES, otpauth_uri, reset_totp
from portal.db import get_session, utcnow

MANAGER_ROLES = ("station", "regulator", "admin")
Page = tuple[str, int]


def _refuse(exc: AccountError) -> None:
    """Turn an out-of-scope target into a 404 and a forbidden role into a 403."""
    if isinstance(exc, OutOfScopeError):
        abort(404)
    if isinstance(exc, RoleNotAllowedError):
        forbidden(_(exc.reason))


@bp.get("/staff")
@roles(*MANAGER_ROLES)
def staff_list() -> str:
    """List the accounts below the signed-in user."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, more = account_page(get_session(), current_staff(), page)
    return render_template(
        "office/staff.html", rows=rows, page=page, more=more, role_labels=ROLE_LABELS, totp_roles=TOTP_ROLES
    )


def _new_form() -> NewUserForm:
    form = NewUserForm()
    groups = scope_choices(get_session(), current_staff())
    form.scope.choices = {str(ROLE_LABELS[role]): options for role, options in groups}
    return form


@bp.get("/staff/new")
@roles(*MANAGER_ROLES)
def staff_new_form() -> str:
    """Show the form to open an account for someone below me."""
    return render_template("office/staff_new.html", form=_new_form())


@bp.post("/staff/new")
@roles(*MANAGER_ROLES)
def staff_new() -> Response | Page:
    """Open the account; the service checks the role and the scope again."""
    form = _new_form()
    if not form.validate_on_submit():
        return render_template("office/staff_new.html", form=form), 400
    session = get_session()
    new = account_from_choice(
        form.scope.data or "",
        username=form.username.data or "",
        password=form.password.data or "",
        display_name=form.display_name.data or "",
        email=form.email.data or "",
    )
    try:
        user = create_user(session, new, creator=current_staff(), now=utcnow())
    except AccountError as exc:
        session.rollback()
        _refuse(exc)
        return render_template("office/staff_new.html", form=form, error=_(exc.reason)), 400
    session.commit()
    flash(_("Account %(name)s created. Tell them the first password in private.", name=user.username))
    return redirect(url_for("office.staff_list"))


@bp.post("/staff/<int:user_id>/disable")
@roles(*MANAGER_ROLES)
def staff_disable(user_id: int) -> Response:
    """Disable an account below me; its sessions end at once."""
    session = get_session()
    try:
        user = disable_user(session, current_staff(), user_id)
    except AccountError as exc:
        session.rollback()
        _refuse(exc)
        flash(_(exc.reason), "error")
        return redirect(url_for("office.staff_list"))
    session.commit()
    flash(_("Account %(name)s disabled.", name=user.username))
    return redirect(url_for("office.staff_list"))


@bp.post("/staff/<int:user_id>/enable")
@roles(*MANAGER_ROLES)
def staff_enable(user_id: int) -> Response:
    """Re-enable a disabled account below me; it signs in again with its old password."""
    session = get_session()
    try:
        user = enable_user(session, current_staff(), user_id)
    except AccountError as exc:
        session.rollback()
        _refuse(exc)
        raise
    session.commit()
    flash(_("Account %(name)s enabled again.", name=user.username))
    return redirect(url_for("office.staff_list"))


@bp.post("/staff/<int:user_id>/reset-totp")
@roles("admin")
def staff_reset_totp(user_id: int) -> str:
    """Give an account a new two-factor secret, shown on this page once."""
    session = get_session()
    try:
        user, secret = reset_totp(session, current_staff(), user_id)
    except AccountError as exc:
        _refuse(exc)
        raise
    session.commit()
    current_app.logger.info("two-factor reset for account %s by %s", user.id, current_staff().id)
    return render_template(
        "office/staff_totp.html", user=user, secret=secret, uri=otpauth_uri(user.username, secret)
    )


@bp.get("/account/password")
@roles(*ALL_ROLES)
def password_form() -> str:
    """Show the form to change my own password."""
    return render_template("office/staff_password.html", form=PasswordForm())


@bp.post("/account/password")
@roles(*ALL_ROLES)
def password() -> Response | Page:
    """Change my password: every other session of the account ends, this one starts afresh."""
    form, session, user, now = PasswordForm(), get_session(), current_staff(), utcnow()
    if not form.validate_on_submit():
        return render_template("office/staff_password.html", form=form), 400
    throttle = login_throttle()
    if throttle.blocked(user.username, now):
        return render_template("office/staff_password.html", form=form, error=blocked_message()), 429
    try:
        authenticate(session, user.username, form.current.data or "")
        set_password(session, user, form.new.data or "")
    except LoginRefusedError:
        throttle.record_failure(user.username, now)
        error = _("The current password is wrong.")
        return render_template("office/staff_password.html", form=form, error=error), 400
    except AccountError as exc:
        return render_template("office/staff_password.html", form=form, error=_(exc.reason)), 400
    session.commit()
    start_session(user, now)
    flash(_("Password changed. Other devices are signed out."))
    return redirect(url_for("office.password_form"))
