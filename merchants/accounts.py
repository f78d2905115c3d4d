"""Staff accounts: created by the people above them, signed in with an argon2 password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.access import market_scope, merchant_scope, unit_subtree, user_scope
from portal.models import Market, Merchant, RegulatorUnit, User

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
# Who may create which accounts: "accounts are created by the people above them" (issue 3).
CREATES = {
    "admin": ("merchant", "station", "regulator", "admin"),
    "regulator": ("merchant", "station", "regulator"),
    "station": ("merchant",),
    "merchant": (),
}
_hasher = PasswordHasher()


def N_(msgid: str) -> str:
    """Mark a msgid for extraction; the view that shows it translates it."""
    return msgid


class AccountError(ValueError):
    """An account change was refused; `reason` is a msgid the page translates."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RoleNotAllowedError(AccountError):
    """The actor may not create or manage accounts of that role (a 403)."""


class OutOfScopeError(AccountError):
    """The merchant, market, unit or account is not the actor's (a 404)."""


class LoginRefusedError(Exception):
    """Wrong username or password, or a disabled account; the page never says which."""


@dataclass(frozen=True)
class NewAccount:
    """What it takes to open an account; exactly the scope its role needs is set."""

    username: str
    role: str
    password: str
    display_name: str = ""
    merchant_id: int | None = None
    market_id: int | None = None
    unit_id: int | None = None
    email: str | None = None


def normalise_username(raw: str) -> str:
    """Return the canonical form of a typed username."""
    return raw.strip().casefold()


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


@cache
def _decoy_hash() -> str:
    """Return a hash to check unknown usernames against, so they take as long as known ones."""
    return _hasher.hash("kuaisu-decoy-password")


def check_password_rules(password: str, username: str) -> None:
    """Refuse passwords that are too short, too long or the username itself."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(N_("The password needs at least 10 characters."))
    if len(password) > MAX_PASSWORD:
        raise AccountError(N_("The password is too long."))
    if password.casefold() == username.casefold():
        raise AccountError(N_("The password must not be the username."))


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active account for the password, upgrading an outdated hash."""
    user = session.scalars(select(User).where(User.username == normalise_username(username))).first()
    try:
        _hasher.verify(user.password_hash if user else _decoy_hash(), password)
    except (VerificationError, InvalidHashError) as exc:
        raise LoginRefusedError from exc
    if user is None or not user.active:
        raise LoginRefusedError
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.flush()
    return user


def _scope_allowed(session: Session, actor: User | None, new: NewAccount) -> None:
    """Check the account's merchant, market or unit exists and lies in the actor's scope."""
    if new.role == "merchant":
        found = select(Merchant.id).where(Merchant.id == new.merchant_id)
        if actor is not None:
            found = found.where(merchant_scope(session, actor))
    elif new.role == "station":
        found = select(Market.id).where(Market.id == new.market_id)
        if actor is not None:
            found = found.where(market_scope(session, actor))
    elif new.role == "regulator":
        found = select(RegulatorUnit.id).where(RegulatorUnit.id == new.unit_id)
        if actor is not None and actor.role == "regulator" and actor.unit_id is not None:
            beneath = [u for u in unit_subtree(session, actor.unit_id) if u != actor.unit_id]
            found = found.where(RegulatorUnit.id.in_(beneath))
    else:
        return
    if session.scalar(found) is None:
        raise OutOfScopeError(N_("There is no such merchant, market or unit in your area."))


def _check_shape(new: NewAccount) -> None:
    """Refuse a bad username, an unknown role or a scope that does not fit the role."""
    if not USERNAME.match(new.username):
        raise AccountError(N_("Use 3 to 60 lower-case letters, digits, dots, dashes or underscores."))
    needed = {"merchant": "merchant_id", "station": "market_id", "regulator": "unit_id"}.get(new.role)
    if new.role not in CREATES:
        raise AccountError(N_("Unknown role."))
    given = {name for name in ("merchant_id", "market_id", "unit_id") if getattr(new, name)}
    if given != ({needed} if needed else set()):
        raise AccountError(N_("Choose the merchant, market or unit the account belongs to."))


def create_user(session: Session, new: NewAccount, *, creator: User | None, now: datetime) -> User:
    """Open an account; `creator` None is the command line, trusted like an admin."""
    new = NewAccount(**{**new.__dict__, "username": normalise_username(new.username)})
    _check_shape(new)
    if creator is not None and new.role not in CREATES.get(creator.role, ()):
        raise RoleNotAllowedError(N_("You may not create accounts of that role."))
    _scope_allowed(session, creator, new)
    check_password_rules(new.password, new.username)
    if session.scalar(select(User.id).where(User.username == new.username)) is not None:
        raise AccountError(N_("That username is taken."))
    user = User(
        username=new.username,
        display_name=(new.display_name.strip() or new.username)[:60],
        password_hash=hash_password(new.password),
        role=new.role,
        merchant_id=new.merchant_id,
        market_id=new.market_id,
        unit_id=new.unit_id,
        email=new.email or None,
        active=True,
        session_epoch=1,
        created_by_id=creator.id if creator else None,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Change the password and end every session of the account (issue 3)."""
    check_password_rules(password, user.username)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    session.flush()


def manageable_user(session: Session, actor: User | None, user_id: int) -> User:
    """Return an account below the actor (any account for the command line), else refuse."""
    query = select(User).where(User.id == user_id)
    if actor is not None:
        query = query.where(user_scope(session, actor))
    user = session.scalars(query).first()
    if user is None:
        raise OutOfScopeError(N_("There is no such account in your area."))
    return user


def disable_user(session: Session, actor: User | None, user_id: int) -> User:
    """Disable an account below the actor and end its sessions."""
    user = manageable_user(session, actor, user_id)
    if actor is not None and actor.id == user.id:
        raise AccountError(N_("You cannot disable your own account."))
    user.active = False
    user.session_epoch += 1
    session.flush()
    return user


def enable_user(session: Session, actor: User | None, user_id: int) -> User:
    """Re-enable a disabled account below the actor; whoever may disable it may enable it again."""
    user = manageable_user(session, actor, user_id)
    user.active = True
    session.flush()
    return user


def creatable_roles(actor: User) -> tuple[str, ...]:
    """Return the roles this user may create accounts for."""
    return CREATES.get(actor.role, ())
