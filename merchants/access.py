"""What each role may see, decided in one place: scoped queries and the role guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from portal.models import Complaint, Market, Merchant, PosterCode, RegulatorUnit, User

F = TypeVar("F", bound=Callable[..., Any])
ALL_ROLES = ("merchant", "station", "regulator", "admin")
ROLE_ATTR = "kuaisu_roles"


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
    found, frontier = [unit_id], [unit_id]
    while frontier:
        children = list(session.scalars(
            select(RegulatorUnit.id).where(RegulatorUnit.parent_id.in_(frontier))
        ))
        found.extend(children)
        frontier = children
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
