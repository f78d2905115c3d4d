"""Friendly error pages; a shopper's typed text survives CSRF expiry and outages."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from portal.security import retry_after
from portal.shedding import OverloadedError

log = logging.getLogger("kuaisu")
# A busy or unavailable server asks clients to come back after this many seconds.
RETRY_AFTER_SECONDS = "5"

_KEPT_FIELDS = (
    "kind",
    "category",
    "description",
    "amount",
    "wish",
    "on_site",
    "phone",
    "name",
    "consent",
    "idem",
    "shop",
)


def _kept_form() -> dict[str, str]:
    """Return the shopper's typed fields, to put back in the page they see."""
    return {name: request.form.get(name, "")[:2000] for name in _KEPT_FIELDS}


def _rollback() -> None:
    """Roll back the request's session so a failed request leaves nothing half-done."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def _retry_page(title: str, message: str, status: int) -> tuple[str, int, dict[str, str]]:
    """Render a page that keeps what the shopper typed and lets them send it again."""
    page = render_template(
        "public/retry.html",
        title=title,
        message=message,
        kept=_kept_form(),
        action=request.path,
    )
    if status == 429:
        return page, status, {"Retry-After": retry_after(RETRY_AFTER_SECONDS)}
    if status == 503:
        return page, status, {"Retry-After": RETRY_AFTER_SECONDS}
    return page, status, {}


def _busy() -> tuple[str, int, dict[str, str]]:
    """Answer 503 with Retry-After; a complaint being sent comes back with what was typed."""
    if request.endpoint == "public.submit_form":
        return _retry_page(
            _("We could not save your complaint yet"),
            _("Nothing was saved. Everything you typed is still here; press Send again in a moment."),
            503,
        )
    page = render_template(
        "error.html",
        title=_("Busy, please try again"),
        message=_("The service is busy. Try again in a moment."),
    )
    return page, 503, {"Retry-After": RETRY_AFTER_SECONDS}


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> tuple[str, int, dict[str, str]] | tuple[str, int]:
        if request.endpoint == "public.submit_form":
            return _retry_page(
                _("The page was open for a long time"),
                _(
                    "For your safety we need you to press Send once more. Everything you typed "
                    "is still here; please add your photos again."
                ),
                400,
            )
        return render_template(
            "error.html",
            title=_("Please try again"),
            message=_("The page expired. Go back, reload and try again."),
        ), 400

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> tuple[str, int, dict[str, str]]:
        _rollback()
        log.warning("database unavailable on %s: %s", request.endpoint, type(exc.orig).__name__)
        return _busy()

    @app.errorhandler(OverloadedError)
    def _overloaded(_exc: OverloadedError) -> tuple[str, int, dict[str, str]]:
        return _busy()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]] | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        if exc.code == 429 and request.endpoint == "public.submit_form":
            # The shopper keeps what they typed, and learns when to send it again.
            return _retry_page(
                _("Please wait a moment"),
                _(
                    "Many complaints came from this number or this place in a short time, so "
                    "this one was not saved yet. Everything you typed is still here: send it "
                    "again later, or ask the market's rights station for help."
                ),
                429,
            )
        titles = {
            404: _("Page not found"),
            413: _("Too much to send at once"),
            429: _("Please wait a moment"),
        }
        messages = {
            404: _("This page does not exist."),
            413: _(
                "The photos are too large. Go back, choose fewer or smaller photos, and "
                "send again; your text is still in the form."
            ),
            429: _("Too many attempts. Please wait a little and try again."),
        }
        title = titles.get(exc.code, _("Something went wrong"))
        message = messages.get(exc.code, _("Please go back and try again."))
        page = render_template("error.html", title=title, message=message)
        if exc.code == 429:
            return page, 429, {"Retry-After": retry_after(RETRY_AFTER_SECONDS)}
        return page, exc.code

    @app.errorhandler(500)
    def _server_error(_exc: Exception) -> tuple[str, int]:
        _rollback()
        return render_template(
            "error.html",
            title=_("Something went wrong"),
            message=_("Please try again. If it keeps failing, call 12315."),
        ), 500
