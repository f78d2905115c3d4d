"""CSRF, rate limits and response headers, switched on in one place."""

from __future__ import annotations

import math
import time

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def retry_after(fallback: str) -> str:
    """Seconds until the breached rate limit's window resets, for a 429's Retry-After."""
    # A limit spent by hand (portal/public_support._spend: per address, per phone) leaves its reset in g.
    reset_at = g.get("kuaisu_retry_at")
    if reset_at is None:
        breached = limiter.current_limit
        if breached is None:
            return fallback
        reset_at = breached.reset_at
    return str(max(1, math.ceil(reset_at - time.time())))


def init_app(app: Flask) -> None:
    """Protect every form, limit abusive clients and set strict headers."""
    csrf.init_app(app)
    limiter.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/office", "/t/")):
            # Tracking and back-office pages carry personal data: never cache them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
