"""`kuaisu users`: open, list, disable accounts and reset their second factor from a shell."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import new_session, utcnow
from portal.models import User
from portal.models.staff import ROLES


def _password(from_stdin: bool) -> str:
    """Read the password from one line of stdin, or prompt for it twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _account(session: Session, username: str) -> User:
    """Return the account by username or stop with a message."""
    user = session.scalars(select(User).where(User.username == username.strip().casefold())).first()
    if user is None:
        raise click.ClickException(f"no account named {username!r}")
    return user


def _print_totp(username: str, secret: str) -> None:
    from merchants.twofactor import otpauth_uri

    click.echo(f"two-factor key: {secret}")
    click.echo(f"authenticator URI (shown once; scan or paste it): {otpauth_uri(username, secret)}")


@click.group("users", cls=AppGroup)
def users() -> None:
    """Back-office accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--merchant", "merchant_id", type=int, help="Merchant id (kuaisu merchants list --json).")
@click.option("--market", "market_id", type=int, help="Market id, for station staff.")
@click.option("--unit", "unit_id", type=int, help="Regulator unit id (unit_id in the list).")
@click.option("--name", "display_name", default="", help="Name shown to colleagues.")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def add(
    username: str,
    role: str,
    merchant_id: int | None,
    market_id: int | None,
    unit_id: int | None,
    display_name: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Open an account; station, regulator and admin accounts get a two-factor key."""
    from merchants.accounts import AccountError, NewAccount, create_user
    from merchants.twofactor import issue_secret, needs_totp

    new = NewAccount(
        username=username,
        role=role,
        password=_password(password_stdin),
        display_name=display_name,
        merchant_id=merchant_id,
        market_id=market_id,
        unit_id=unit_id,
        email=email,
    )
    with new_session(write=True) as session:
        try:
            user = create_user(session, new, creator=None, now=utcnow())
        except AccountError as exc:
            raise click.ClickException(exc.reason) from exc
        secret = issue_secret(session, user) if needs_totp(user) else None
        session.commit()
        click.echo(f"created {user.role} account {user.username} (id {user.id})")
        if secret:
            _print_totp(user.username, secret)


@users.command("list")
def list_() -> None:
    """List every account with its role, scope and state."""
    with new_session() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            scope = user.merchant_id or user.market_id or user.unit_id or "-"
            state = "active" if user.active else "disabled"
            factor = "totp" if user.totp_secret else "-"
            click.echo(f"{user.id:>5}  {user.username:20} {user.role:9} {scope!s:>6}  {state:8} {factor}")


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account; its open sessions end at their next request."""
    from merchants.accounts import disable_user

    with new_session(write=True) as session:
        disable_user(session, None, _account(session, username).id)
        session.commit()
    click.echo(f"disabled {username}")


@users.command("reset-totp")
@click.argument("username")
def reset_totp_command(username: str) -> None:
    """Give an account a new two-factor key (for a lost phone) and print it once."""
    from merchants.twofactor import reset_totp

    with new_session(write=True) as session:
        user, secret = reset_totp(session, None, _account(session, username).id)
        session.commit()
        _print_totp(user.username, secret)


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password_command(username: str, password_stdin: bool) -> None:
    """Set an account's password; its open sessions end."""
    from merchants.accounts import AccountError, set_password

    password = _password(password_stdin)
    with new_session(write=True) as session:
        try:
            set_password(session, _account(session, username), password)
        except AccountError as exc:
            raise click.ClickException(exc.reason) from exc
        session.commit()
    click.echo(f"password changed for {username}")
