"""Staff pages: opening accounts for the people below, disabling them, resetting a factor."""

from __future__ import annotations

import re

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import User
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as
from tests.merchants.tenants import Tenant, build_world

PASSWORD = "counter-password-1"
pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


@pytest.fixture
def world(app: Flask, factory: Factory) -> tuple[Tenant, Tenant]:
    return build_world(factory, app.config["UPLOAD_DIR"])


def _open(client: FlaskClient, scope: str, username: str = "newstaff") -> int:
    response = client.post(
        "/office/staff/new",
        data={"scope": scope, "username": username, "display_name": "新同事", "password": PASSWORD},
    )
    return response.status_code


def _find(session: Session, username: str) -> User | None:
    session.rollback()
    return session.scalars(select(User).where(User.username == username)).first()


def test_station_sees_only_its_own_merchants_as_choices(
    client: FlaskClient, world: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = world
    login_as(client, mine.users["station"])
    page = client.get("/office/staff/new").text
    assert "开设账号" in page
    assert f'value="merchant:{mine.merchant.id}"' in page
    assert f'value="merchant:{theirs.merchant.id}"' not in page
    assert "station:" not in page and "regulator:" not in page


def test_station_opens_an_account_for_its_merchant(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    login_as(client, mine.users["station"])
    assert _open(client, f"merchant:{mine.merchant.id}") == 302
    user = _find(session, "newstaff")
    assert user is not None
    assert (user.role, user.merchant_id, user.created_by_id) == (
        "merchant",
        mine.merchant.id,
        mine.users["station"].id,
    )
    listing = client.get("/office/staff").text
    assert "newstaff" in listing and mine.merchant.name in listing
    assert mine.users["merchant"].username in listing
    assert mine.users["regulator"].username not in listing


@pytest.mark.parametrize(
    ("actor", "scope", "status"),
    [
        ("station", "merchant:{theirs.merchant.id}", 404),  # another market's shop
        ("station", "regulator:{mine.unit.id}", 403),  # a role above its own
        ("station", "station:{mine.market.id}", 403),
        ("regulator", "station:{theirs.market.id}", 404),  # a market outside its subtree
        ("regulator", "regulator:{mine.unit.id}", 404),  # its own unit is not beneath it
        ("regulator", "admin", 403),
    ],
)
def test_out_of_scope_accounts_are_refused(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant], actor: str, scope: str, status: int
) -> None:
    mine, theirs = world
    login_as(client, mine.users[actor])
    assert _open(client, scope.format(mine=mine, theirs=theirs)) == status
    assert _find(session, "newstaff") is None


def test_a_bad_form_is_shown_again_with_the_reason(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    login_as(client, mine.users["station"])
    existing = mine.users["merchant"].username
    response = client.post(
        "/office/staff/new",
        data={"scope": f"merchant:{mine.merchant.id}", "username": existing, "password": PASSWORD},
    )
    assert response.status_code == 400 and "该用户名已被使用" in response.text


def test_disable_from_the_list_ends_that_persons_session(
    app: Flask, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    shop, station = app.test_client(), app.test_client()
    login_as(shop, mine.users["merchant"])
    login_as(station, mine.users["station"])
    assert shop.get("/office/account/password").status_code == 200
    response = station.post(f"/office/staff/{mine.users['merchant'].id}/disable")
    assert response.status_code == 302
    assert "已停用" in station.get("/office/staff").text
    assert shop.get("/office/account/password").status_code == 302


def test_a_disabled_account_is_enabled_again_from_the_list(
    app: Flask, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    shop, station, merchant = app.test_client(), app.test_client(), mine.users["merchant"]
    login_as(shop, merchant)
    login_as(station, mine.users["station"])
    merchant_epoch = merchant.session_epoch
    assert station.post(f"/office/staff/{merchant.id}/disable").status_code == 302
    listing = station.get("/office/staff").text
    assert f"/office/staff/{merchant.id}/enable" in listing and "重新启用" in listing
    response = station.post(f"/office/staff/{merchant.id}/enable", follow_redirects=True)
    assert response.status_code == 200 and f"账号 {merchant.username} 已重新启用。" in response.text
    assert f"/office/staff/{merchant.id}/disable" in response.text
    enabled = _fresh(session, merchant.username)
    assert enabled.active and enabled.session_epoch == merchant_epoch + 1
    # The sessions that disabling ended stay ended; signing in again works.
    assert shop.get("/office/account/password").status_code == 302
    login_as(shop, enabled)
    assert shop.get("/office/account/password").status_code == 200


def test_enabling_is_for_those_who_could_disable(
    app: Flask, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = world
    disabled = [mine.users["merchant"], mine.users["station"], theirs.users["merchant"]]
    for account in disabled:
        account.active = False
    session.commit()
    station, regulator = app.test_client(), app.test_client()
    login_as(station, theirs.users["station"])
    login_as(regulator, mine.users["regulator"])
    assert station.post(f"/office/staff/{mine.users['merchant'].id}/enable").status_code == 404
    assert regulator.post(f"/office/staff/{theirs.users['merchant'].id}/enable").status_code == 404
    assert regulator.post("/office/staff/999999/enable").status_code == 404
    assert regulator.post(f"/office/staff/{mine.users['station'].id}/enable").status_code == 302
    now_active = [_fresh(session, account.username).active for account in disabled]
    assert now_active == [False, True, False]


def test_enabling_needs_the_forms_csrf_token(
    app: Flask, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    merchant, station = mine.users["merchant"], app.test_client()
    merchant.active = False
    session.commit()
    login_as(station, mine.users["station"])
    app.config["WTF_CSRF_ENABLED"] = True
    assert station.post(f"/office/staff/{merchant.id}/enable").status_code == 400
    assert not _fresh(session, merchant.username).active
    form = station.get("/office/staff").text.split(f"/office/staff/{merchant.id}/enable")[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    response = station.post(f"/office/staff/{merchant.id}/enable", data={"csrf_token": token.group(1)})
    assert response.status_code == 302 and _fresh(session, merchant.username).active


def _fresh(session: Session, username: str) -> User:
    """Read the account as the database has it now, not as this session last saw it."""
    session.rollback()  # a new snapshot
    query = select(User).where(User.username == username).execution_options(populate_existing=True)
    return session.scalars(query).one()


def test_admin_resets_an_authenticator_and_sees_the_key_once(
    client: FlaskClient, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    target = mine.users["station"]
    login_as(client, make_user(session, "admin"))
    response = client.post(f"/office/staff/{target.id}/reset-totp")
    assert response.status_code == 200
    key = re.search(r'<code class="secret">([A-Z2-7]+)</code>', response.text)
    assert key is not None and "otpauth://totp/" in response.text
    user = _find(session, target.username)
    assert user is not None and user.totp_secret == key.group(1)
    assert pyotp.TOTP(key.group(1)).now()
    assert "no-store" in response.headers["Cache-Control"]


def test_only_an_admin_resets_authenticators(client: FlaskClient, world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    login_as(client, mine.users["regulator"])
    assert client.post(f"/office/staff/{mine.users['station'].id}/reset-totp").status_code == 403


def test_changing_my_password_keeps_me_in_and_signs_out_my_other_devices(
    app: Flask, session: Session, world: tuple[Tenant, Tenant]
) -> None:
    from merchants.accounts import set_password

    mine, _theirs = world
    user = mine.users["merchant"]
    set_password(session, user, PASSWORD)
    session.commit()
    desk, phone = app.test_client(), app.test_client()
    login_as(desk, user)
    login_as(phone, user)
    wrong = desk.post(
        "/office/account/password",
        data={"current": "not-it-at-all", "new": "next-password-9", "confirm": "next-password-9"},
    )
    assert wrong.status_code == 400 and "当前密码错误" in wrong.text
    right = desk.post(
        "/office/account/password",
        data={"current": PASSWORD, "new": "next-password-9", "confirm": "next-password-9"},
    )
    assert right.status_code == 302
    assert desk.get("/office/account/password").status_code == 200
    assert phone.get("/office/account/password").status_code == 302


def test_merchant_staff_have_no_staff_pages(client: FlaskClient, world: tuple[Tenant, Tenant]) -> None:
    login_as(client, world[0].users["merchant"])
    assert client.get("/office/staff").status_code == 403
    assert client.get("/office/staff/new").status_code == 403
    nav = client.get("/office/account/password").text
    assert "退出登录" in nav and "/office/staff" not in nav
