"""Language and time zone: Simplified Chinese by default, English on request."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SHANGHAI = ZoneInfo("Asia/Shanghai")
LOCALES = ("zh_Hans_CN", "en")


def select_locale() -> str:
    """Pick the locale: an explicit ?lang= or cookie, then Accept-Language, then Chinese."""
    if not has_request_context():
        return "zh_Hans_CN"
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in ("en", "zh"):
        return "en" if asked == "en" else "zh_Hans_CN"
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"], default="zh")
    return "en" if best == "en" else "zh_Hans_CN"


def compile_catalogues() -> None:
    """Compile .po to .mo when a .mo is missing or stale; Babel shows English otherwise."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source)
        # Several workers may start at once: write aside, then rename atomically.
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as target:
            write_mo(target, catalog)
        os.replace(tmp, mo)


def shanghai(moment: datetime | None) -> datetime | None:
    """Convert a stored UTC datetime to Asia/Shanghai for display."""
    return None if moment is None else moment.astimezone(SHANGHAI)


def init_app(app: Flask) -> None:
    """Set up Flask-Babel with our catalogue directory and locale selector."""
    compile_catalogues()
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
    )

    @app.context_processor
    def _locale() -> dict[str, str]:
        return {"lang": "en" if str(get_locale()) == "en" else "zh"}

    @app.template_filter("local")
    def _local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        local = shanghai(moment)
        return "" if local is None else local.strftime(fmt)
