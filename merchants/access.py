"""What each role may see, decided in one place: scoped queries and the role guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from portal.facts_query import FactScope
from portal.models import Complaint, Market, Merchant, PosterCode, PosterJob, RegulatorUnit, User
from portal.posters import BulkScope

F = TypeVar("F", bound=Callable[..., Any])
ALL_ROLES = ("merchant", "station", "regulator", "admin")
ROLE_ATTR = "kuaisu_roles"
# Who weighs a shopper's other cases (the repeat-phone flag, duplicates). Merchant staff never
# see the flag: it speaks of the shopper's complaints against other shops (PIPL: need to know).
SIGNAL_ROLES = frozenset({"station", "regulator", "admin"})


def roles(*allowed: str) -> Callable[[F], F]:
    """Declare which roles may use a back-office view; the guard enforces it."""
    unknown = set(allowed) - set(ALL_ROLES)
    if unknown or not allowed:
        raise ValueError(f"bad roles {allowed!r}")

    def mark(view: F) -> F:
        setattr(view, ROLE_ATTR, frozenset(allowed))
        return view

    return mark


def public(view: F) -> F:
    """Put a back-office view on the allow-list that needs no login (e.g. the login page)."""
    setattr(view, ROLE_ATTR, frozenset({"anonymous"}))
    return view


def unit_subtree(session: Session, unit_id: int) -> list[int]:
    """Return the unit's id and every unit beneath it."""
    cached: dict[int, list[int]] = g.setdefault("kuaisu_subtrees", {})
    if unit_id in cached:
        return cached[unit_id]
    # One recursive query, not one per level: every back-office page of a regulator asks.
    tree = select(RegulatorUnit.id).where(RegulatorUnit.parent_id == unit_id).cte("subtree", recursive=True)
    tree = tree.union_all(select(RegulatorUnit.id).join(tree, RegulatorUnit.parent_id == tree.c.id))
    # The unit itself comes first: bulk poster scopes name their unit by the first id.
    found = [unit_id, *session.scalars(select(tree.c.id))]
    cached[unit_id] = found
    return found


def complaint_scope(session: Session, user: User) -> ColumnElement[bool]:
    """Return the WHERE clause for the complaints this user may see."""
    if user.role == "merchant":
        # Reports are not shown to the merchant: the reporter is kept confidential (Order 121).
        return (
            (Complaint.merchant_id == user.merchant_id)
            & (Complaint.kind == "complaint")
            & Complaint.hidden_at.is_(None)
        )
    if user.role == "station":
        return Complaint.market_id == user.market_id
    if user.role == "regulator" and user.unit_id is not None:
        return Complaint.unit_id.in_(unit_subtree(session, user.unit_id))
    if user.role == "admin":
        return true()
    return Complaint.id.is_(None)


def fact_scope(session: Session, user: User) -> FactScope:
    """Return complaint_scope in the terms of insight's day tables (the same cases)."""
    if user.role == "merchant":
        return FactScope(merchant=user.merchant_id or 0, complaints_only=True)
    if user.role == "station":
        return FactScope(market=user.market_id or 0)
    if user.role == "regulator" and user.unit_id is not None:
        return FactScope(units=tuple(unit_subtree(session, user.unit_id)))
    if user.role == "admin":
        return FactScope()
    return FactScope(units=())


def merchant_scope(session: Session, user: User) -> ColumnElement[bool]:
    """Return the WHERE clause for the merchants this user may see."""
    if user.role == "merchant":
        return Merchant.id == user.merchant_id
    if user.role == "station":
        return Merchant.market_id == user.market_id
    if user.role == "regulator" and user.unit_id is not None:
        return Merchant.unit_id.in_(unit_subtree(session, user.unit_id))
    if user.role == "admin":
        return true()
    return Merchant.id.is_(None)


def market_scope(session: Session, user: User) -> ColumnElement[bool]:
    """Return the WHERE clause for the markets (and market posters) this user may see."""
    if user.role == "station":
        return Market.id == user.market_id
    if user.role == "regulator" and user.unit_id is not None:
        return Market.unit_id.in_(unit_subtree(session, user.unit_id))
    if user.role == "admin":
        return true()
    return Market.id.is_(None)


def get_complaint_or_404(session: Session, user: User, case_number: str) -> Complaint:
    """Return the case if it is in the user's scope; anything else is a 404."""
    complaint = session.scalars(
        select(Complaint).where(
            Complaint.case_number == case_number, complaint_scope(session, user)
        )
    ).first()
    if complaint is None:
        abort(404)
    return complaint


def get_merchant_or_404(session: Session, user: User, merchant_id: int) -> Merchant:
    """Return the merchant if it is in the user's scope; anything else is a 404."""
    merchant = session.scalars(
        select(Merchant).where(Merchant.id == merchant_id, merchant_scope(session, user))
    ).first()
    if merchant is None:
        abort(404)
    return merchant


def get_market_or_404(session: Session, user: User, market_id: int) -> Market:
    """Return the market if it is in the user's scope; anything else is a 404."""
    market = session.scalars(
        select(Market).where(Market.id == market_id, market_scope(session, user))
    ).first()
    if market is None:
        abort(404)
    return market


def get_poster_or_404(session: Session, user: User, code: str) -> PosterCode:
    """Return a poster code whose merchant or market is in the user's scope."""
    poster = session.scalars(select(PosterCode).where(PosterCode.code == code)).first()
    if poster is None:
        abort(404)
    if poster.merchant_id is not None:
        get_merchant_or_404(session, user, poster.merchant_id)
    elif poster.market_id is not None:
        get_market_or_404(session, user, poster.market_id)
    return poster


def can_reveal_phone(user: User) -> bool:
    """Station, regulator and admin users may reveal a number; merchants see it masked."""
    return user.role in ("station", "regulator", "admin")


def scope_units(session: Session, user: User) -> list[int] | None:
    """Return the units whose cases make up the scope, when that is more than one board range.

    A merchant's, a market's or one unit's cases are one range of ix_complaint_*_board and are
    read newest first directly. A regulator's subtree (or the admin's everything) is one range
    per unit, which the board walks unit by unit (merchants/boardquery.py).
    """
    if user.role == "admin":
        return list(session.scalars(select(RegulatorUnit.id)))
    if user.role == "regulator" and user.unit_id is not None:
        units = unit_subtree(session, user.unit_id)
        return units if len(units) > 1 else None
    return None


def current_staff() -> User:
    """Return the signed-in staff account; the guard has already refused anyone else."""
    from flask_login import current_user

    user = current_user._get_current_object()  # the real User, not the werkzeug proxy
    if not isinstance(user, User):
        abort(404)
    return user


ANONYMOUS = "anonymous"  # the marker public() sets
BACKGROUND_ATTR = "kuaisu_background"


def background(view: F) -> F:
    """Mark a polling view: it needs login but does not count as activity for the idle timeout."""
    setattr(view, BACKGROUND_ATTR, True)
    return view


def declared_roles(view: Callable[..., Any] | None) -> frozenset[str] | None:
    """Return the roles a view declared with roles() or public(), or None if it declared none."""
    found = getattr(view, ROLE_ATTR, None)
    return found if isinstance(found, frozenset) and found else None


def user_scope(session: Session, user: User) -> ColumnElement[bool]:
    """Return the WHERE clause for the accounts this user may manage (the people below them)."""
    if user.role == "admin":
        return true()
    if user.role == "station":
        shops = select(Merchant.id).where(Merchant.market_id == user.market_id)
        return (User.role == "merchant") & User.merchant_id.in_(shops)
    if user.role == "regulator" and user.unit_id is not None:
        subtree = unit_subtree(session, user.unit_id)
        beneath = [unit for unit in subtree if unit != user.unit_id]
        shops = select(Merchant.id).where(Merchant.unit_id.in_(subtree))
        markets = select(Market.id).where(Market.unit_id.in_(subtree))
        return (
            ((User.role == "merchant") & User.merchant_id.in_(shops))
            | ((User.role == "station") & User.market_id.in_(markets))
            | ((User.role == "regulator") & User.unit_id.in_(beneath))
        )
    return User.id.is_(None)


def get_user_or_404(session: Session, user: User, user_id: int) -> User:
    """Return an account the user may manage; anything else is a 404."""
    account = session.scalars(select(User).where(User.id == user_id, user_scope(session, user))).first()
    if account is None:
        abort(404)
    return account


def bulk_scope_or_404(session: Session, user: User, choice: str) -> BulkScope:
    """Turn a bulk-print choice ("all", "unit:ID", "market:ID") into a scope the user may print."""
    kind, _, raw = choice.partition(":")
    if kind == "market" and raw.isdigit():
        return BulkScope("market", (get_market_or_404(session, user, int(raw)).id,))
    if kind == "unit" and raw.isdigit() and user.role in ("regulator", "admin"):
        unit_id = int(raw)
        inside = (
            unit_id in unit_subtree(session, user.unit_id)
            if user.role == "regulator" and user.unit_id is not None
            else user.role == "admin"
        )
        if not inside or session.get(RegulatorUnit, unit_id) is None:
            abort(404)
        return BulkScope("unit", tuple(unit_subtree(session, unit_id)))
    if kind == "all" and user.role == "admin":
        return BulkScope("all")
    if kind == "all" and user.role == "regulator" and user.unit_id is not None:
        return BulkScope("unit", tuple(unit_subtree(session, user.unit_id)))
    if kind == "all" and user.role == "station" and user.market_id is not None:
        return BulkScope("market", (user.market_id,))
    abort(404)


def get_poster_job_or_404(session: Session, user: User, token: str) -> PosterJob:
    """Return a bulk poster job its requester, or anyone whose scope covers it, may see."""
    job = session.scalars(select(PosterJob).where(PosterJob.token == token)).first()
    if job is None:
        abort(404)
    if job.requested_by_id == user.id or user.role == "admin":
        return job
    scope = BulkScope.from_json(job.scope)
    if scope.kind == "market" and scope.ids:
        get_market_or_404(session, user, scope.ids[0])
        return job
    if (
        scope.kind == "unit"
        and scope.ids
        and user.role == "regulator"
        and user.unit_id is not None
        and scope.ids[0] in unit_subtree(session, user.unit_id)
    ):
        return job
    abort(404)
