"""`kuaisu users`: open accounts from a shell, with the password on stdin or at a prompt."""

from __future__ import annotations

import re

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from portal.cli import cli
from portal.db import new_session
from portal.models import Market, Merchant, User
from tests.factories import Factory

pytestmark = pytest.mark.usefixtures("fast_hashing")
PASSWORD = "counter-password-1"


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep argon2 cheap in these tests (tests/merchants/conftest.py has the same fixture)."""
    from argon2 import PasswordHasher

    import merchants.accounts as accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _user(app: Flask, username: str) -> User | None:
    with app.app_context(), new_session() as session:
        return session.scalars(select(User).where(User.username == username)).first()


def _shop(app: Flask) -> tuple[int, int, int]:
    """Create a shop through the factory; return merchant, market and unit ids."""
    with app.app_context(), new_session() as session:
        from datetime import UTC, datetime

        merchant = Factory(session, datetime(2026, 11, 23, tzinfo=UTC)).make_merchant()
        assert merchant.market_id is not None
        return merchant.id, merchant.market_id, merchant.unit_id


def test_add_merchant_staff_with_password_on_stdin(app: Flask) -> None:
    merchant_id, _market, _unit = _shop(app)
    result = app.test_cli_runner().invoke(
        cli,
        ["users", "add", "zhangji", "--role", "merchant", "--merchant", str(merchant_id), "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created merchant account zhangji" in result.output
    assert "otpauth://" not in result.output and PASSWORD not in result.output
    user = _user(app, "zhangji")
    assert user is not None and user.merchant_id == merchant_id and user.totp_secret is None


def test_add_station_prompts_twice_and_prints_the_totp_uri(app: Flask) -> None:
    _merchant, market_id, _unit = _shop(app)
    result = app.test_cli_runner().invoke(
        cli,
        ["users", "add", "wanbo", "--role", "station", "--market", str(market_id)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # the prompt hides what is typed
    uri = re.search(r"otpauth://\S+", result.output)
    assert uri is not None
    user = _user(app, "wanbo")
    assert user is not None and user.totp_secret
    assert pyotp.parse_uri(uri.group()).secret == user.totp_secret


def test_add_refuses_a_missing_or_wrong_scope(app: Flask) -> None:
    _merchant, market_id, unit_id = _shop(app)
    runner = app.test_cli_runner()
    for args in (
        ["--role", "station"],
        ["--role", "regulator", "--market", str(market_id)],
        ["--role", "merchant", "--merchant", "99999"],
    ):
        result = runner.invoke(
            cli, ["users", "add", "someone", *args, "--password-stdin"], input=f"{PASSWORD}\n"
        )
        assert result.exit_code == 1, result.output
        assert "Error:" in result.output
    result = runner.invoke(
        cli,
        ["users", "add", "someone", "--role", "regulator", "--unit", str(unit_id), "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code == 1 and "at least 10 characters" in result.output
    assert _user(app, "someone") is None


def test_list_disable_reset_and_set_password(app: Flask) -> None:
    _merchant, _market, unit_id = _shop(app)
    runner = app.test_cli_runner()
    runner.invoke(
        cli,
        ["users", "add", "yingxiong", "--role", "regulator", "--unit", str(unit_id), "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    before = _user(app, "yingxiong")
    assert before is not None
    listing = runner.invoke(cli, ["users", "list"])
    assert re.search(r"yingxiong\s+regulator\s+\d+\s+active\s+totp", listing.output), listing.output
    reset = runner.invoke(cli, ["users", "reset-totp", "yingxiong"])
    assert reset.exit_code == 0 and "otpauth://" in reset.output
    changed = runner.invoke(
        cli, ["users", "set-password", "yingxiong", "--password-stdin"], input="a-new-password-2\n"
    )
    assert changed.exit_code == 0, changed.output
    assert runner.invoke(cli, ["users", "disable", "yingxiong"]).exit_code == 0
    after = _user(app, "yingxiong")
    assert after is not None and not after.active
    assert after.totp_secret != before.totp_secret and after.session_epoch == before.session_epoch + 3
    assert runner.invoke(cli, ["users", "disable", "nobody"]).exit_code == 1


def test_demo_opens_one_account_per_role_and_prints_the_logins(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(cli, ["demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["demo"])
    assert "already loaded" in second.output
    for username in ("zhangji", "wanbo", "yingxiong", "admin"):
        assert re.search(rf"^  {username}\s", second.output, re.MULTILINE), second.output
    assert second.output.count("otpauth://") == 3  # station, regulator, admin
    assert "kuaisu-demo-2026" in second.output
    with app.app_context(), new_session() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        assert {u.role for u in users.values()} == {"merchant", "station", "regulator", "admin"}
        shop = session.get(Merchant, users["zhangji"].merchant_id)
        market = session.get(Market, users["wanbo"].market_id)
        assert shop is not None and shop.name == "张记瓷砖"
        assert market is not None and market.name == "万博装饰市场"
        assert users["zhangji"].totp_secret is None and users["wanbo"].totp_secret
