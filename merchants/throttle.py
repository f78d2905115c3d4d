"""Failed sign-ins counted per account in fixed one-minute windows, in shared storage."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import cast

from flask import Flask, current_app
from limits.storage import Storage, storage_from_string

log = logging.getLogger("kuaisu.auth")
WINDOW_SECONDS = 60
EXTENSION = "kuaisu.login_throttle"


class LoginThrottle:
    """Refuse an account's sign-ins for the rest of a window once it has too many failures.

    Counted per account, never per address: a whole market shares one Wi-Fi address,
    while a password guesser aims at one account from many addresses (issue 3).
    """

    def __init__(self, storage: Storage, limit: int, window_seconds: int = WINDOW_SECONDS) -> None:
        self.storage = storage
        self.limit = limit
        self.window = window_seconds

    def _key(self, username: str, now: datetime) -> str:
        """Name the counter of this account's current window; `now` decides the window."""
        account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
        return f"kuaisu/login-failures/{account}/{int(now.timestamp()) // self.window}"

    def blocked(self, username: str, now: datetime) -> bool:
        """Return whether this account has used up its failures in the window holding `now`."""
        try:
            return self.storage.get(self._key(username, now)) >= self.limit
        except Exception:
            # Fail closed: without the counter a guesser would be unlimited (PITFALLS: limits).
            log.exception("login throttle storage unavailable")
            return True

    def record_failure(self, username: str, now: datetime) -> int:
        """Count one failed password or code for the account; return the window's count."""
        try:
            return self.storage.incr(self._key(username, now), self.window * 2)
        except Exception:
            log.exception("login throttle storage unavailable")
            return self.limit


def init_app(app: Flask) -> None:
    """Give the app its throttle on the rate-limit storage, shared by every worker (Redis)."""
    storage = cast(Storage, storage_from_string(app.config["RATELIMIT_STORAGE_URI"]))
    app.extensions[EXTENSION] = LoginThrottle(storage, int(app.config["LOGIN_FAILURES_PER_MINUTE"]))


def login_throttle() -> LoginThrottle:
    """Return the current app's throttle."""
    throttle: LoginThrottle = current_app.extensions[EXTENSION]
    return throttle
