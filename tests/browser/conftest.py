"""Real Chromium (Debian's package) driven by Playwright, against the app on 127.0.0.1."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("KUAISU_CHROMIUM", "/usr/bin/chromium")
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium once per run; a missing browser is an error, never a skip."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the test app on a free loopback port in a thread; return its base URL."""
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _context(browser: Browser, **options: object) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)  # type: ignore[arg-type]
    context.set_default_timeout(15000)
    yield context
    context.close()


@pytest.fixture
def phone_context(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized context in zh-CN, like a shopper in WeChat's browser."""
    yield from _context(browser, **PHONE)


@pytest.fixture
def phone_page(phone_context: BrowserContext) -> Page:
    """A page in the phone context."""
    return phone_context.new_page()


@pytest.fixture
def desktop_context(browser: Browser) -> Iterator[BrowserContext]:
    """A desktop-sized context in zh-CN, like station staff at a PC."""
    yield from _context(browser, **DESKTOP)


@pytest.fixture
def desktop_page(desktop_context: BrowserContext) -> Page:
    """A page in the desktop context."""
    return desktop_context.new_page()
