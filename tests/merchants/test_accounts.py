"""Account services: who may open which account, passwords, TOTP once only, throttling, expiry."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import Flask
from limits.storage import MemoryStorage
from sqlalchemy import select
from sqlalchemy.orm import Session

import merchants.accounts as accounts
from merchants.accounts import (
    AccountError,
    LoginRefusedError,
    NewAccount,
    OutOfScopeError,
    RoleNotAllowedError,
    authenticate,
    create_user,
    disable_user,
    enable_user,
    set_password,
)
from merchants.display import phone_for
from merchants.reveal import RevealNotAllowedError, reveal_phone
from merchants.sessions import session_expired
from merchants.throttle import LoginThrottle
from merchants.twofactor import enrol_totp, issue_secret, reset_totp, verify_totp
from portal.models import Event, RegulatorUnit, User
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.merchants.tenants import Tenant, build_world

PASSWORD = "correct-horse-battery"
SALT = "test-secret-key-0123456789abcdef"
STEP = timedelta(seconds=30)
pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def world(app: Flask, factory: Factory) -> tuple[Tenant, Tenant]:
    """Tenants A and B: two offices under one district, each with a market and a shop."""
    return build_world(factory, app.config["UPLOAD_DIR"])


def _new(role: str, **scope: int | None) -> NewAccount:
    return NewAccount(username=f"new-{role}", role=role, password=PASSWORD, **scope)  # type: ignore[arg-type]


# --- who may open which account -------------------------------------------------------


def test_station_opens_staff_for_its_own_merchant(session: Session, world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    station = mine.users["station"]
    user = create_user(session, _new("merchant", merchant_id=mine.merchant.id), creator=station, now=NOW)
    assert (user.role, user.merchant_id, user.created_by_id) == ("merchant", mine.merchant.id, station.id)
    assert user.password_hash.startswith("$argon2id$")


def test_station_cannot_open_a_regulator_or_a_station(session: Session, world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    station = mine.users["station"]
    with pytest.raises(RoleNotAllowedError):
        create_user(session, _new("regulator", unit_id=mine.unit.id), creator=station, now=NOW)
    with pytest.raises(RoleNotAllowedError):
        create_user(session, _new("station", market_id=mine.market.id), creator=station, now=NOW)


def test_station_cannot_open_staff_for_another_markets_merchant(
    session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = world
    with pytest.raises(OutOfScopeError):
        create_user(
            session, _new("merchant", merchant_id=theirs.merchant.id), creator=mine.users["station"], now=NOW
        )


def test_regulator_opens_stations_and_merchants_in_its_subtree_only(
    session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = world
    regulator = mine.users["regulator"]
    station = create_user(session, _new("station", market_id=mine.market.id), creator=regulator, now=NOW)
    assert station.market_id == mine.market.id
    with pytest.raises(OutOfScopeError):
        create_user(session, _new("station", market_id=theirs.market.id), creator=regulator, now=NOW)
    with pytest.raises(OutOfScopeError):
        create_user(session, _new("merchant", merchant_id=theirs.merchant.id), creator=regulator, now=NOW)


def test_regulator_opens_regulators_only_for_units_beneath(
    session: Session, factory: Factory, world: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = world
    district = session.get(RegulatorUnit, mine.unit.parent_id)
    boss = make_user(session, "regulator", unit=district)
    below = create_user(session, _new("regulator", unit_id=mine.unit.id), creator=boss, now=NOW)
    assert below.unit_id == mine.unit.id
    office = mine.users["regulator"]
    for unit_id in (mine.unit.id, theirs.unit.id, district.id if district else 0):  # own, sibling, parent
        with pytest.raises(OutOfScopeError):
            create_user(
                session, NewAccount("peer", "regulator", PASSWORD, unit_id=unit_id), creator=office, now=NOW
            )


def test_merchant_staff_open_no_accounts(session: Session, world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    with pytest.raises(RoleNotAllowedError):
        create_user(
            session, _new("merchant", merchant_id=mine.merchant.id), creator=mine.users["merchant"], now=NOW
        )


def test_admin_opens_anyone_but_not_for_missing_records(
    session: Session, world: tuple[Tenant, Tenant]
) -> None:
    _mine, theirs = world
    admin = make_user(session, "admin")
    for new in (_new("regulator", unit_id=theirs.unit.id), _new("admin")):
        assert create_user(session, new, creator=admin, now=NOW).role == new.role
    with pytest.raises(OutOfScopeError):
        create_user(
            session, NewAccount("ghost", "merchant", PASSWORD, merchant_id=99999), creator=admin, now=NOW
        )


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        (NewAccount("Ab", "admin", PASSWORD), "Use 3 to 60"),
        (NewAccount("has space", "admin", PASSWORD), "Use 3 to 60"),
        (NewAccount("short", "admin", "123456789"), "at least 10"),
        (NewAccount("samesame12", "admin", "SameSame12"), "must not be the username"),
        (NewAccount("nostation", "station", PASSWORD), "Choose the merchant"),
        (NewAccount("twoscopes", "admin", PASSWORD, unit_id=1), "Choose the merchant"),
        (NewAccount("wizard", "wizard", PASSWORD), "Unknown role"),
    ],
)
def test_account_shape_is_checked(session: Session, new: NewAccount, reason: str) -> None:
    with pytest.raises(AccountError, match=reason):
        create_user(session, new, creator=None, now=NOW)


def test_usernames_are_unique_whatever_the_case(session: Session) -> None:
    create_user(session, NewAccount("Admin.Li", "admin", PASSWORD), creator=None, now=NOW)
    with pytest.raises(AccountError, match="taken"):
        create_user(session, NewAccount("admin.li", "admin", PASSWORD), creator=None, now=NOW)


# --- passwords, disabling, epochs ------------------------------------------------------


def test_authenticate_checks_password_and_state(session: Session) -> None:
    user = create_user(session, NewAccount("wanbo", "admin", PASSWORD), creator=None, now=NOW)
    assert authenticate(session, " WanBo ", PASSWORD) is user
    for name, password in (("wanbo", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(LoginRefusedError):
            authenticate(session, name, password)
    disable_user(session, None, user.id)
    with pytest.raises(LoginRefusedError):
        authenticate(session, "wanbo", PASSWORD)


def test_an_outdated_hash_is_upgraded_at_login(session: Session) -> None:
    user = create_user(session, NewAccount("oldhash", "admin", PASSWORD), creator=None, now=NOW)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    old = user.password_hash
    authenticate(session, "oldhash", PASSWORD)
    assert user.password_hash != old
    assert not accounts._hasher.check_needs_rehash(user.password_hash)
    assert authenticate(session, "oldhash", PASSWORD) is user


def test_password_change_and_disable_end_sessions(session: Session, world: tuple[Tenant, Tenant]) -> None:
    mine, theirs = world
    user = mine.users["merchant"]
    set_password(session, user, "another-good-password")
    assert user.session_epoch == 2
    assert disable_user(session, mine.users["station"], user.id) is user
    assert (user.active, user.session_epoch) == (False, 3)
    with pytest.raises(OutOfScopeError):
        disable_user(session, mine.users["station"], theirs.users["merchant"].id)
    with pytest.raises(OutOfScopeError):  # a station is not below itself
        disable_user(session, mine.users["station"], mine.users["station"].id)
    admin = make_user(session, "admin")
    with pytest.raises(AccountError, match="your own"):
        disable_user(session, admin, admin.id)


def test_whoever_may_disable_may_enable_again(session: Session, world: tuple[Tenant, Tenant]) -> None:
    mine, theirs = world
    user = mine.users["merchant"]
    user.password_hash = accounts.hash_password(PASSWORD)
    disable_user(session, mine.users["station"], user.id)
    with pytest.raises(LoginRefusedError):
        authenticate(session, user.username, PASSWORD)
    with pytest.raises(OutOfScopeError):
        enable_user(session, theirs.users["station"], user.id)
    with pytest.raises(OutOfScopeError):
        enable_user(session, mine.users["merchant"], user.id)
    assert not user.active
    assert enable_user(session, mine.users["regulator"], user.id) is user
    # Enabling does not bring back the sessions that disabling ended.
    assert (user.active, user.session_epoch) == (True, 2)
    assert authenticate(session, user.username, PASSWORD) is user


# --- TOTP ------------------------------------------------------------------------------


def _totp_user(session: Session) -> tuple[User, pyotp.TOTP]:
    user = create_user(session, NewAccount("station-li", "admin", PASSWORD), creator=None, now=NOW)
    return user, pyotp.TOTP(issue_secret(session, user))


def test_a_code_works_only_once(session: Session) -> None:
    user, totp = _totp_user(session)
    code = totp.at(NOW)
    assert verify_totp(session, user, code, NOW)
    assert not verify_totp(session, user, code, NOW + timedelta(seconds=5))  # replay
    assert not verify_totp(session, user, totp.at(NOW - STEP), NOW)  # an older step
    assert verify_totp(session, user, totp.at(NOW + STEP), NOW + STEP)  # the next step
    assert user.totp_last_counter == totp.timecode(NOW + STEP)


def test_codes_allow_one_step_of_drift_only(session: Session) -> None:
    user, totp = _totp_user(session)
    assert not verify_totp(session, user, totp.at(NOW - 3 * STEP), NOW)
    assert not verify_totp(session, user, "12345", NOW)
    assert verify_totp(session, user, totp.at(NOW - STEP), NOW)
    assert verify_totp(session, user, f" {totp.at(NOW + STEP)[:3]} {totp.at(NOW + STEP)[3:]}", NOW)


def test_enrolment_keeps_the_secret_only_with_a_right_code(session: Session) -> None:
    user = create_user(session, NewAccount("newcomer", "admin", PASSWORD), creator=None, now=NOW)
    secret = pyotp.random_base32()
    assert not enrol_totp(
        session, user, secret, "000000" if pyotp.TOTP(secret).at(NOW) != "000000" else "111111", NOW
    )
    assert user.totp_secret is None
    code = pyotp.TOTP(secret).at(NOW)
    assert enrol_totp(session, user, secret, code, NOW)
    assert user.totp_secret == secret
    assert not verify_totp(session, user, code, NOW)  # the enrolment code is used up


def test_admin_resets_totp_and_old_codes_stop(session: Session, world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    station = mine.users["station"]
    old = pyotp.TOTP(issue_secret(session, station))
    epoch = station.session_epoch
    admin = make_user(session, "admin")
    user, secret = reset_totp(session, admin, station.id)
    assert user is station and secret != old.secret
    assert (station.totp_last_counter, station.session_epoch) == (None, epoch + 1)
    assert not verify_totp(session, station, old.at(NOW), NOW)
    assert verify_totp(session, station, pyotp.TOTP(secret).at(NOW), NOW)
    for actor in (mine.users["regulator"], mine.users["station"]):
        with pytest.raises(RoleNotAllowedError):
            reset_totp(session, actor, mine.users["merchant"].id)


# --- throttling and expiry, with exact datetimes --------------------------------------


def test_throttle_counts_failures_per_account_per_minute() -> None:
    throttle = LoginThrottle(MemoryStorage(), limit=5)
    for second in range(5):
        assert not throttle.blocked("wanbo", NOW + timedelta(seconds=second))
        throttle.record_failure("wanbo", NOW + timedelta(seconds=second))
    assert throttle.blocked("wanbo", NOW + timedelta(seconds=10))
    assert throttle.blocked(" WANBO", NOW + timedelta(seconds=59))  # the rest of the window
    assert not throttle.blocked("zhangji", NOW + timedelta(seconds=10))  # per account
    assert not throttle.blocked("wanbo", NOW + timedelta(seconds=60))  # the next window


def test_throttle_fails_closed_when_its_storage_is_down() -> None:
    class Broken(MemoryStorage):
        def get(self, key: str) -> int:
            raise ConnectionError("redis down")

    assert LoginThrottle(Broken(), limit=5).blocked("wanbo", NOW)


IDLE, ABSOLUTE = timedelta(minutes=30), timedelta(hours=12)


@pytest.mark.parametrize(
    ("login", "seen", "now", "expired"),
    [
        (NOW, NOW, NOW, False),
        (NOW, NOW, NOW + timedelta(minutes=29, seconds=59), False),
        (NOW, NOW, NOW + timedelta(minutes=30), True),
        (NOW, NOW + timedelta(hours=11, minutes=50), NOW + timedelta(hours=11, minutes=59), False),
        (NOW, NOW + timedelta(hours=11, minutes=50), NOW + timedelta(hours=12), True),
        (None, NOW, NOW, True),
        (NOW, None, NOW, True),
    ],
)
def test_session_expiry(login: object, seen: object, now: object, expired: bool) -> None:
    assert session_expired(login, seen, now, IDLE, ABSOLUTE) is expired  # type: ignore[arg-type]


# --- phone masking and the reveal audit -------------------------------------------------


def test_phone_is_masked_unless_a_permitted_user_revealed_it(world: tuple[Tenant, Tenant]) -> None:
    mine, _theirs = world
    case = mine.complaint
    assert phone_for(mine.users["merchant"], case) == "138****8000"
    assert phone_for(mine.users["merchant"], case, revealed=True) == "138****8000"
    assert phone_for(mine.users["station"], case) == "138****8000"
    assert phone_for(mine.users["station"], case, revealed=True) == "13800138000"


def test_reveal_is_an_event_naming_the_viewer_never_the_number(
    session: Session, world: tuple[Tenant, Tenant]
) -> None:
    mine, _theirs = world
    station = mine.users["station"]
    assert reveal_phone(session, station, mine.complaint, NOW, SALT) == "13800138000"
    event = session.scalars(select(Event).where(Event.kind == "phone_revealed")).one()
    assert (event.actor_id, event.actor_role, event.public) == (station.id, "station", False)
    assert event.created_at == NOW
    assert "8000" not in f"{event.body} {event.data}"
    with pytest.raises(RevealNotAllowedError):
        reveal_phone(session, mine.users["merchant"], mine.complaint, NOW, SALT)
    assert len(session.scalars(select(Event).where(Event.kind == "phone_revealed")).all()) == 1
