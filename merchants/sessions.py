"""Signed-in sessions: a fresh session at login, idle and absolute timeouts, epoch checks."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app, flash, g, request
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import LoginManager, login_user, logout_user

from merchants.access import BACKGROUND_ATTR
from portal.db import get_session, utcnow
from portal.models import User

EPOCH, NONCE, LOGIN_AT, SEEN_AT = "ks_epoch", "ks_nonce", "ks_login_at", "ks_seen_at"
PENDING = "ks_pending"  # password accepted, second factor still to come
PENDING_SECONDS = 300
# Rewriting the cookie on every request buys nothing; a minute is fine for a 30-minute limit.
TOUCH_SECONDS = 60

login_manager = LoginManager()
login_manager.login_view = "office.login_form"


def session_expired(
    login_at: datetime | None,
    last_seen: datetime | None,
    now: datetime,
    idle: timedelta,
    absolute: timedelta,
) -> bool:
    """Return whether a session is past its idle or absolute timeout (or lacks its times)."""
    if login_at is None or last_seen is None:
        return True
    return now - last_seen >= idle or now - login_at >= absolute


def _stamp(moment: datetime) -> int:
    """Return whole UTC seconds for the cookie."""
    return int(moment.timestamp())


def _moment(value: Any) -> datetime | None:
    """Read a stamp written by _stamp; anything else counts as missing."""
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


def session_payload(user: User, now: datetime) -> dict[str, Any]:
    """Return what a signed-in session carries besides Flask-Login's own keys."""
    return {
        EPOCH: user.session_epoch,
        NONCE: secrets.token_urlsafe(16),
        LOGIN_AT: _stamp(now),
        SEEN_AT: _stamp(now),
    }


def start_session(user: User, now: datetime) -> None:
    """Sign the user in on a brand-new session: nothing of the old cookie survives."""
    cookie.clear()
    login_user(user)
    cookie.update(session_payload(user, now))


def end_session() -> None:
    """Sign out and drop everything the cookie held."""
    logout_user()
    cookie.clear()


def _limits() -> tuple[timedelta, timedelta]:
    """Return the idle and absolute timeouts from the configuration."""
    config = current_app.config
    return (
        timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
        timedelta(hours=int(config["SESSION_ABSOLUTE_HOURS"])),
    )


def session_valid(user: User | None, now: datetime) -> bool:
    """Return whether the cookie still speaks for this active account at `now`."""
    if user is None or not user.active or cookie.get(EPOCH) != user.session_epoch:
        return False
    idle, absolute = _limits()
    return not session_expired(
        _moment(cookie.get(LOGIN_AT)), _moment(cookie.get(SEEN_AT)), now, idle, absolute
    )


def _touch(now: datetime) -> None:
    """Record activity, unless the request is a background poll (it is not the user)."""
    view = current_app.view_functions.get(request.endpoint or "")
    seen = cookie.get(SEEN_AT)
    if getattr(view, BACKGROUND_ATTR, False) or not isinstance(seen, int):
        return
    if _stamp(now) - seen >= TOUCH_SECONDS:
        cookie[SEEN_AT] = _stamp(now)


def load_user(user_id: str) -> User | None:
    """Load the signed-in account, ending the session if it expired or was invalidated."""
    if not user_id.isdigit():
        return None
    now = utcnow()
    user = get_session().get(User, int(user_id), populate_existing=True)
    if not session_valid(user, now):
        cookie.clear()
        flash(_("Your session has ended. Please sign in again."), "error")
        return None
    _touch(now)
    return user


def begin_pending(user: User, now: datetime, next_url: str | None) -> None:
    """Remember, on a fresh session, that the password was right and the code is due."""
    cookie.clear()
    cookie[PENDING] = {"uid": user.id, "epoch": user.session_epoch, "at": _stamp(now), "next": next_url or ""}


def pending(now: datetime) -> tuple[User, dict[str, Any]] | None:
    """Return the account waiting for its second factor, if still fresh and valid."""
    state = cookie.get(PENDING)
    if not isinstance(state, dict) or not isinstance(state.get("at"), int):
        return None
    user = get_session().get(User, int(state.get("uid", 0)), populate_existing=True)
    fresh = 0 <= _stamp(now) - state["at"] < PENDING_SECONDS
    if user is None or not user.active or state.get("epoch") != user.session_epoch or not fresh:
        cookie.pop(PENDING, None)
        return None
    return user, state


def init_app(app: Flask) -> None:
    """Attach Flask-Login; the user is loaded afresh for every request."""
    login_manager.init_app(app)
    login_manager.user_loader(load_user)

    @app.teardown_request
    def _forget_user(_exc: BaseException | None) -> None:
        # Flask-Login caches the user in g; tests reuse one app context across requests.
        g.pop("_login_user", None)
