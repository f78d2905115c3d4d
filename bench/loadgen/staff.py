"""Staff at their boards: sign in with password and one-time code, then poll /office/ steadily."""

from __future__ import annotations

import itertools
import re
import urllib.parse
from dataclasses import dataclass

import pyotp

from bench.loadgen.http import CSRF, Browser, hidden
from bench.loadgen.schedule import Visit
from bench.loadgen.shopper import attempt
from bench.loadgen.stats import PhaseStats

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# `kuaisu demo` prints "  <username> <role> <place>" and, below it, "two-factor key <secret>".
LOGIN_LINE = re.compile(r"^  (\S+)\s+(merchant|station|regulator|admin)\s")
KEY_LINE = re.compile(r"^\s+two-factor key (\S+)")


@dataclass(frozen=True)
class StaffLogin:
    """A demo account: username, password and (station and up) the two-factor secret."""

    username: str
    role: str
    password: str
    totp_secret: str | None


def demo_logins(demo_output: str, password: str) -> list[StaffLogin]:
    """Read the accounts and two-factor keys `kuaisu demo` printed."""
    logins: list[StaffLogin] = []
    for line in demo_output.splitlines():
        if account := LOGIN_LINE.match(line):
            logins.append(StaffLogin(account.group(1), account.group(2), password, None))
        elif (key := KEY_LINE.match(line)) and logins:
            logins[-1] = StaffLogin(logins[-1].username, logins[-1].role, password, key.group(1))
    return logins


async def _post(browser: Browser, path: str, fields: dict[str, str]) -> str:
    reply = await browser.request("POST", path, FORM, urllib.parse.urlencode(fields).encode())
    if reply.status not in (302, 303):
        raise RuntimeError(f"{path} answered {reply.status}, not a redirect")
    return urllib.parse.urlsplit(reply.headers.get("location", "")).path


async def sign_in(port: int, login: StaffLogin) -> Browser:
    """Sign in like a person at the office PC; return the browser holding the session cookie."""
    browser = Browser(port)
    page = await browser.request("GET", "/office/login")
    csrf = hidden(CSRF, page.body) or ""
    landing = await _post(
        browser, "/office/login", {"csrf_token": csrf, "username": login.username, "password": login.password}
    )
    if landing.endswith("/login/code"):
        if login.totp_secret is None:
            raise RuntimeError(f"{login.username} needs a one-time code and has no key")
        page = await browser.request("GET", landing)
        code = pyotp.TOTP(login.totp_secret).now()
        landing = await _post(browser, landing, {"csrf_token": hidden(CSRF, page.body) or "", "code": code})
    board = await browser.request("GET", "/office/")
    if board.status != 200:
        raise RuntimeError(f"{login.username} signed in but the board answered {board.status}")
    browser.close()
    return browser


def board_poller(port: int, browsers: list[Browser], timeout: float) -> Visit:
    """Return a visit that loads one staff member's board, taking the staff in turn."""
    turns = itertools.cycle(browsers)

    async def poll(stats: PhaseStats, due: float) -> None:
        signed_in = next(turns)
        # A poll due while the last is still loading goes on a second connection, as a browser does.
        browser = Browser(port)
        browser.cookies = signed_in.cookies
        try:
            await attempt(stats.steps["board poll"], due, browser.request("GET", "/office/"), timeout)
        finally:
            browser.close()

    return poll
