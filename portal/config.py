"""Configuration: defaults, then KUAISU_* environment variables, then a test mapping."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask


class ConfigError(RuntimeError):
    """The configuration cannot run the portal."""


def _defaults(instance: Path) -> dict[str, Any]:
    """Return the settings a fresh checkout runs with."""
    return {
        "ENV_NAME": "development",
        "DATABASE_URL": f"sqlite:///{instance / 'kuaisu.db'}",
        "BASE_URL": "http://127.0.0.1:8000",
        "UPLOAD_DIR": str(instance / "uploads"),
        "BULK_DIR": str(instance / "bulk"),
        "MAX_PHOTOS": 6,
        "MAX_PHOTO_BYTES": 12 * 1024 * 1024,
        # Six photos of a modern phone, plus the text; a larger body is refused early.
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "MAX_IMAGE_PIXELS": 50_000_000,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_PUBLIC_IP": "600 per minute",
        "RATELIMIT_SUBMIT_PHONE": "5 per hour",
        "RATELIMIT_TRACK": "20 per minute",
        "SESSION_IDLE_MINUTES": 30,
        "SESSION_ABSOLUTE_HOURS": 12,
        "LOGIN_FAILURES_PER_MINUTE": 5,
        "DISCLOSURE_MIN_CASES": 5,
        "SMTP_HOST": "",
        "SMTP_PORT": 25,
        "MAIL_FROM": "kuaisu@localhost",
        "TRUSTED_PROXIES": 0,
        # Requests that waited longer than this in the queue behind the proxy get 503 +
        # Retry-After (portal/shedding.py); 0 turns shedding off.
        "QUEUE_BUDGET_MS": 0,
        "PHONE_SALT": "",
        "STATION_HOTLINE": "12315",
        "DB_LOCK_TIMEOUT_MS": 10_000,
        # Abuse and duplicate signals (shown to staff, never acted on alone): a phone with
        # this many submissions within the window is flagged; the same phone and shop
        # within DUPLICATE_WINDOW_DAYS is suggested as a possible duplicate.
        "REPEAT_PHONE_THRESHOLD": 10,
        "REPEAT_PHONE_WINDOW_DAYS": 7,
        "DUPLICATE_WINDOW_DAYS": 7,
        # 1: keep photos as sent and clean them after the receipt (`kuaisu photos process`).
        "PHOTOS_IN_BACKGROUND": 0,
    }


_INT_KEYS = {
    "DB_LOCK_TIMEOUT_MS",
    "PHOTOS_IN_BACKGROUND",
    "MAX_PHOTOS",
    "MAX_PHOTO_BYTES",
    "MAX_CONTENT_LENGTH",
    "MAX_IMAGE_PIXELS",
    "SESSION_IDLE_MINUTES",
    "SESSION_ABSOLUTE_HOURS",
    "LOGIN_FAILURES_PER_MINUTE",
    "DISCLOSURE_MIN_CASES",
    "SMTP_PORT",
    "TRUSTED_PROXIES",
    "QUEUE_BUDGET_MS",
    "REPEAT_PHONE_THRESHOLD",
    "REPEAT_PHONE_WINDOW_DAYS",
    "DUPLICATE_WINDOW_DAYS",
}
# Settings that are counts or periods: zero or less would flag everyone or no one.
_POSITIVE_KEYS = ("REPEAT_PHONE_THRESHOLD", "REPEAT_PHONE_WINDOW_DAYS", "DUPLICATE_WINDOW_DAYS")


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read KUAISU_* variables, converting the numeric ones."""
    found: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("KUAISU_"):
            continue
        key = name.removeprefix("KUAISU_")
        if key in _INT_KEYS:
            try:
                found[key] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
        else:
            found[key] = raw
    return found


def _dev_secret(instance: Path) -> str:
    """Generate a development secret once and keep it under instance/."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _check_queue_budget(settings: Mapping[str, Any]) -> None:
    """A queue budget needs a proxy: only a proxy stamps the X-Request-Start it is measured from."""
    budget = settings["QUEUE_BUDGET_MS"]
    if not isinstance(budget, int) or budget < 0:
        raise ConfigError(f"KUAISU_QUEUE_BUDGET_MS must be milliseconds, 0 for off, got {budget!r}")
    if budget and not settings["TRUSTED_PROXIES"]:
        raise ConfigError(
            "KUAISU_QUEUE_BUDGET_MS needs KUAISU_TRUSTED_PROXIES of at least 1: the queue is measured "
            "from the X-Request-Start header only a trusted proxy (nginx) sets"
        )


def load_config(
    app: Flask,
    test_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Fill app.config from defaults, the environment and the test mapping, then validate."""
    instance = Path(app.instance_path)
    settings = _defaults(instance)
    settings.update(_from_environ(os.environ if environ is None else environ))
    settings.update(test_config or {})
    if not settings.get("SECRET_KEY"):
        if settings["ENV_NAME"] == "production":
            raise ConfigError(
                "KUAISU_SECRET_KEY is not set. A production start needs a long random "
                "secret, e.g. KUAISU_SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')"
            )
        settings["SECRET_KEY"] = _dev_secret(instance)
    fallbacks = settings.get("SECRET_KEY_FALLBACKS")
    if isinstance(fallbacks, str):
        # Old keys keep earlier receipt links findable by /track after a rotation.
        settings["SECRET_KEY_FALLBACKS"] = [k.strip() for k in fallbacks.split(",") if k.strip()]
    for key in _POSITIVE_KEYS:
        if not isinstance(settings[key], int) or settings[key] < 1:
            raise ConfigError(f"KUAISU_{key} must be a whole number of at least 1, got {settings[key]!r}")
    _check_queue_budget(settings)
    if not settings["PHONE_SALT"]:
        settings["PHONE_SALT"] = settings["SECRET_KEY"]
    secure = settings["BASE_URL"].startswith("https://")
    settings.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Strict",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=3600 * 4,
        WTF_CSRF_SSL_STRICT=secure,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        # No X-RateLimit-* headers: they cost two storage round trips on every limited
        # request. A 429 still says Retry-After (portal/security.retry_after).
        RATELIMIT_HEADERS_ENABLED=False,
    )
    settings.update({k: v for k, v in (test_config or {}).items() if k.startswith("SESSION_")})
    app.config.update(settings)
