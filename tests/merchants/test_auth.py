"""Signing in through the pages: password, throttling, TOTP, fresh sessions, expiry, sign-out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.accounts import NewAccount, create_user, disable_user, set_password
from merchants.sessions import EPOCH, LOGIN_AT, NONCE, PENDING, SEEN_AT
from portal.models import Event, User
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as
from tests.merchants.tenants import Tenant, build_world

PASSWORD = "counter-password-1"
pytestmark = pytest.mark.usefixtures("fast_hashing")


class Clock:
    """The time the sign-in code sees; tests move it by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze the request-boundary clock of the sign-in code at NOW."""
    frozen = Clock(NOW)
    for module in ("merchants.auth", "merchants.sessions", "merchants.staff"):
        monkeypatch.setattr(f"{module}.utcnow", frozen)
    return frozen


@pytest.fixture
def world(app: Flask, factory: Factory) -> tuple[Tenant, Tenant]:
    return build_world(factory, app.config["UPLOAD_DIR"])


def _account(session: Session, username: str, role: str, tenant: Tenant, **extra: str) -> User:
    scope = {
        "merchant": {"merchant_id": tenant.merchant.id},
        "station": {"market_id": tenant.market.id},
        "regulator": {"unit_id": tenant.unit.id},
    }.get(role, {})
    user = create_user(session, NewAccount(username, role, PASSWORD, **scope), creator=None, now=NOW)  # type: ignore[arg-type]
    for name, value in extra.items():
        setattr(user, name, value)
    session.commit()
    return user


def _login(
    client: FlaskClient, username: str, password: str = PASSWORD, next_url: str = ""
) -> tuple[int, str]:
    query = f"?next={next_url}" if next_url else ""
    response = client.post(f"/office/login{query}", data={"username": username, "password": password})
    return response.status_code, response.location if response.status_code == 302 else response.text


# --- the password step ----------------------------------------------------------------


def test_login_page_speaks_chinese_and_fits_a_phone(client: FlaskClient) -> None:
    page = client.get("/office/login").text
    assert "登录后台" in page and "用户名" in page and "密码" in page
    assert 'name="viewport" content="width=device-width' in page
    assert 'autocomplete="current-password"' in page


def test_merchant_signs_in_on_a_brand_new_session(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    user = _account(session, "zhangji", "merchant", world[0])
    with client.session_transaction() as cookie:
        cookie["planted"] = "by an attacker"  # session fixation: nothing may survive login
    assert _login(client, "ZhangJi ") == (302, "/office/")
    with client.session_transaction() as cookie:
        assert "planted" not in cookie
        assert cookie["_user_id"] == str(user.id) and cookie[EPOCH] == user.session_epoch
        assert cookie[LOGIN_AT] == cookie[SEEN_AT] == int(NOW.timestamp())
        first_nonce = cookie[NONCE]
    client.post("/office/logout")
    _login(client, "zhangji")
    with client.session_transaction() as cookie:
        assert cookie[NONCE] != first_nonce


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("/office/complaints/KS1", "/office/complaints/KS1"),
        ("//evil.example/office/", "/office/"),
        ("https://evil.example/office/", "/office/"),
        ("/c/ABC", "/office/"),
    ],
)
def test_login_returns_only_inside_the_office(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock, asked: str, lands: str
) -> None:
    _account(session, "zhangji", "merchant", world[0])
    assert _login(client, "zhangji", next_url=asked) == (302, lands)


def test_wrong_password_and_unknown_user_look_the_same(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    _account(session, "zhangji", "merchant", world[0])
    wrong = _login(client, "zhangji", "not-the-password")
    unknown = _login(client, "nobody", PASSWORD)
    assert wrong[0] == unknown[0] == 200
    assert "用户名或密码错误" in wrong[1] and "用户名或密码错误" in unknown[1]


def test_disabled_account_cannot_sign_in(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    user = _account(session, "zhangji", "merchant", world[0])
    disable_user(session, None, user.id)
    session.commit()
    assert _login(client, "zhangji")[0] == 200


def test_sixth_attempt_in_a_minute_is_refused_even_with_the_right_password(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    _account(session, "zhangji", "merchant", world[0])
    _account(session, "laowang", "merchant", world[1])
    for _attempt in range(5):
        assert _login(client, "zhangji", "guess-guess-guess")[0] == 200
        clock.advance(seconds=5)
    status, page = _login(client, "zhangji")
    assert status == 429 and "登录失败次数过多" in page
    assert _login(client, "laowang")[0] == 302  # another account is not affected
    clock.advance(seconds=60)
    assert _login(client, "zhangji") == (302, "/office/")


# --- the second factor ----------------------------------------------------------------


def _code_step(client: FlaskClient, code: str) -> tuple[int, str]:
    response = client.post("/office/login/code", data={"code": code})
    return response.status_code, response.location if response.status_code == 302 else response.text


def test_station_enrols_an_authenticator_at_first_sign_in(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    user = _account(session, "wanbo", "station", world[0])
    assert _login(client, "wanbo", next_url="/office/staff") == (302, "/office/login/code")
    assert client.get("/office/staff").status_code == 302  # not signed in before the code
    page = client.get("/office/login/code").text
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page)
    assert secret is not None and "<svg" in page and "otpauth://totp/Kuaisu:wanbo" in page
    totp = pyotp.TOTP(secret.group(1))
    assert _code_step(client, "000000" if totp.at(NOW) != "000000" else "111111")[0] == 200
    assert _code_step(client, totp.at(NOW)) == (302, "/office/staff")
    assert client.get("/office/staff").status_code == 200
    session.refresh(user)
    assert user.totp_secret == secret.group(1)


def test_a_code_signs_in_only_once(
    app: Flask, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    secret = pyotp.random_base32()
    _account(session, "yingxiong", "regulator", world[0], totp_secret=secret)
    code = pyotp.TOTP(secret).at(NOW)
    first, second = app.test_client(), app.test_client()
    _login(first, "yingxiong")
    assert _code_step(first, code) == (302, "/office/")
    clock.advance(seconds=5)
    _login(second, "yingxiong")
    status, page = _code_step(second, code)  # the same code, seconds later, e.g. shoulder-surfed
    assert status == 200 and "已使用过" in page
    clock.advance(seconds=30)
    assert _code_step(second, pyotp.TOTP(secret).at(clock.now)) == (302, "/office/")


def test_the_code_step_expires_and_needs_the_password_first(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    secret = pyotp.random_base32()
    _account(session, "yingxiong", "regulator", world[0], totp_secret=secret)
    assert client.post("/office/login/code", data={"code": "123456"}).location == "/office/login"
    _login(client, "yingxiong")
    clock.advance(minutes=5)
    assert _code_step(client, pyotp.TOTP(secret).at(clock.now)) == (302, "/office/login")
    with client.session_transaction() as cookie:
        assert PENDING not in cookie and "_user_id" not in cookie


def test_wrong_codes_count_towards_the_throttle(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    secret = pyotp.random_base32()
    _account(session, "yingxiong", "regulator", world[0], totp_secret=secret)
    _login(client, "yingxiong")
    right = pyotp.TOTP(secret).at(NOW)
    wrong = "000000" if right != "000000" else "111111"
    for _attempt in range(5):
        assert _code_step(client, wrong)[0] == 200
    assert _code_step(client, right)[0] == 429


# --- sessions: epoch, idle and absolute timeouts, sign-out -----------------------------


def test_password_change_ends_an_open_session(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    user = world[0].users["merchant"]
    login_as(client, user)
    assert client.get("/office/account/password").status_code == 200
    set_password(session, user, "brand-new-password")
    session.commit()
    response = client.get("/office/account/password")
    assert response.status_code == 302 and response.location.startswith("/office/login")
    assert "登录已失效" in client.get(response.location).text


def test_disabling_ends_an_open_session(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    login_as(client, mine.users["merchant"])
    assert client.get("/office/account/password").status_code == 200
    disable_user(session, mine.users["station"], mine.users["merchant"].id)
    session.commit()
    assert client.get("/office/account/password").status_code == 302


def test_idle_and_absolute_timeouts(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    login_as(client, world[0].users["merchant"], now=NOW)
    page = "/office/account/password"
    clock.advance(minutes=29)
    assert client.get(page).status_code == 200  # activity moves the idle clock
    clock.advance(minutes=29)
    assert client.get(page).status_code == 200
    clock.advance(minutes=30)
    assert client.get(page).status_code == 302  # 30 minutes idle
    login_as(client, world[0].users["merchant"], now=NOW)
    clock.now = NOW
    for _step in range(24):  # busy all day, never idle: 24 x 29 min = 11 h 36 min
        clock.advance(minutes=29)
        assert client.get(page).status_code == 200, clock.now
    clock.advance(minutes=29)  # 12 h 5 min after signing in
    assert client.get(page).status_code == 302


def test_sign_out(client: FlaskClient, world: tuple[Tenant, Tenant]) -> None:
    login_as(client, world[0].users["merchant"])
    response = client.post("/office/logout")
    assert urlsplit(response.location).path == "/office/login"
    with client.session_transaction() as cookie:
        assert "_user_id" not in cookie and EPOCH not in cookie
    assert client.get("/office/account/password").status_code == 302


def test_login_form_needs_its_csrf_token(
    app: Flask, client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], clock: Clock
) -> None:
    _account(session, "zhangji", "merchant", world[0])
    app.config["WTF_CSRF_ENABLED"] = True
    assert _login(client, "zhangji")[0] == 400
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/office/login").text)
    assert token is not None
    response = client.post(
        "/office/login", data={"username": "zhangji", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302


# --- revealing a phone ----------------------------------------------------------------


def test_station_reveals_a_phone_and_the_timeline_records_who(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    station = mine.users["station"]
    login_as(client, station)
    response = client.post(f"/office/complaints/{mine.complaint.case_number}/reveal-phone")
    assert response.status_code == 200
    assert 'href="tel:13800138000"' in response.text
    assert response.headers["Cache-Control"] == "no-store"
    event = session.scalars(select(Event).where(Event.kind == "phone_revealed")).one()
    assert (event.actor_id, event.public, event.data, event.body) == (station.id, False, None, None)


def test_merchant_may_not_reveal(client: FlaskClient, world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    login_as(client, mine.users["merchant"])
    assert client.post(f"/office/complaints/{mine.complaint.case_number}/reveal-phone").status_code == 403


def test_make_user_accounts_can_use_login_as(client: FlaskClient, factory: Factory) -> None:
    merchant = factory.make_merchant()
    login_as(client, make_user(factory.session, "merchant", merchant=merchant))
    assert client.get("/office/account/password").status_code == 200
