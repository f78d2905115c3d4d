"""The back office's one blueprint and its guard: secure by default, roles declared per view."""

from __future__ import annotations

from typing import NoReturn

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from merchants.access import ANONYMOUS, BACKGROUND_ATTR, declared_roles

bp = Blueprint("office", __name__, url_prefix="/office")


class UndeclaredRolesError(RuntimeError):
    """A back-office view was registered without roles() or public()."""


def forbidden(message: str) -> NoReturn:
    """Stop with a 403 page that says why, in the user's language."""
    page = render_template("error.html", title=_("Not open to your account"), message=message)
    abort(make_response(page, 403))


def login_redirect() -> Response:
    """Send the visitor to the login page, coming back here afterwards if it was a GET."""
    back = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("office.login_form", next=back))


@bp.before_request
def guard() -> Response | None:
    """Let a request through only if its view declared roles and the user holds one of them."""
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = declared_roles(view)
    if allowed is None:
        # Fail closed: a route without declared roles is a bug, never an open door.
        raise UndeclaredRolesError(
            f"{request.endpoint} declares no roles: add @roles(...) or @public to the view"
        )
    if ANONYMOUS in allowed:
        return None
    if not current_user.is_authenticated:
        if getattr(view, BACKGROUND_ATTR, False):
            abort(401)  # a script polling; it cannot follow a redirect to a form
        return login_redirect()
    if current_user.role not in allowed:
        forbidden(_("Your account may not use this page."))
    return None
