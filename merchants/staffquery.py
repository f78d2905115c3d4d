"""Reading accounts for the staff pages: who is below me, and where new accounts may go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.access import market_scope, merchant_scope, unit_subtree, user_scope
from merchants.accounts import NewAccount, creatable_roles
from portal.models import Market, Merchant, RegulatorUnit, User

PER_PAGE = 50


@dataclass(frozen=True)
class AccountRow:
    """One account as the list shows it."""

    user: User
    scope_name: str


def account_page(session: Session, actor: User, page: int) -> tuple[list[AccountRow], bool]:
    """Return one page of the accounts the actor manages, and whether another page follows."""
    users = list(
        session.scalars(
            select(User)
            .where(user_scope(session, actor))
            .order_by(User.role, User.username)
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE + 1)
        )
    )
    names = _scope_names(session, users[:PER_PAGE])
    rows = [AccountRow(u, names.get(_scope_key(u), "")) for u in users[:PER_PAGE]]
    return rows, len(users) > PER_PAGE


def _scope_key(user: User) -> str:
    """Return the choice value naming where an account belongs, e.g. 'merchant:12'."""
    scope_id = {"merchant": user.merchant_id, "station": user.market_id, "regulator": user.unit_id}.get(
        user.role
    )
    return f"{user.role}:{scope_id}" if scope_id else user.role


def _scope_names(session: Session, users: list[User]) -> dict[str, str]:
    """Name the merchant, market or unit of each account in one query per kind."""
    names: dict[str, str] = {}
    for role, model, column in (
        ("merchant", Merchant, "merchant_id"),
        ("station", Market, "market_id"),
        ("regulator", RegulatorUnit, "unit_id"),
    ):
        ids = {getattr(u, column) for u in users if u.role == role}
        if ids:
            for row_id, name in session.execute(select(model.id, model.name).where(model.id.in_(ids))):
                names[f"{role}:{row_id}"] = name
    return names


def scope_choices(session: Session, actor: User) -> list[tuple[str, list[tuple[str, str]]]]:
    """Return the places the actor may open accounts for, grouped by the role they imply."""
    allowed = creatable_roles(actor)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    if "merchant" in allowed:
        shops = select(Merchant.id, Merchant.name).where(merchant_scope(session, actor))
        groups.append(("merchant", _options("merchant", session.execute(shops.order_by(Merchant.name)))))
    if "station" in allowed:
        markets = select(Market.id, Market.name).where(market_scope(session, actor))
        groups.append(("station", _options("station", session.execute(markets.order_by(Market.name)))))
    if "regulator" in allowed:
        units = select(RegulatorUnit.id, RegulatorUnit.name).order_by(RegulatorUnit.id)
        if actor.role == "regulator" and actor.unit_id is not None:
            beneath = [u for u in unit_subtree(session, actor.unit_id) if u != actor.unit_id]
            units = units.where(RegulatorUnit.id.in_(beneath))
        groups.append(("regulator", _options("regulator", session.execute(units))))
    if "admin" in allowed:
        groups.append(("admin", [("admin", _("Everything (admin)"))]))
    return [(role, options) for role, options in groups if options]


def _options(role: str, rows: Iterable[tuple[int, str]]) -> list[tuple[str, str]]:
    """Turn (id, name) rows into choice values like 'station:3'."""
    return [(f"{role}:{row_id}", name) for row_id, name in rows]


def account_from_choice(
    scope: str, *, username: str, password: str, display_name: str, email: str
) -> NewAccount:
    """Build the new account from the chosen place: the choice decides role and scope."""
    role, _sep, raw_id = scope.partition(":")
    scope_id = int(raw_id) if raw_id.isdigit() else None
    return NewAccount(
        username=username,
        role=role,
        password=password,
        display_name=display_name,
        email=email or None,
        merchant_id=scope_id if role == "merchant" else None,
        market_id=scope_id if role == "station" else None,
        unit_id=scope_id if role == "regulator" else None,
    )
