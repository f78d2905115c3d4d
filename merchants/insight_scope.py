"""Which cases a dashboard, list, export or report may count: the user's scope plus filters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from flask import abort
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from merchants.access import (
    complaint_scope,
    fact_scope,
    get_market_or_404,
    get_merchant_or_404,
    market_scope,
    merchant_scope,
    unit_subtree,
)
from portal.facts_query import FactScope
from portal.i18n import SHANGHAI
from portal.metrics_query import FilterError, Filters
from portal.models import Complaint, Market, Merchant, RegulatorUnit, User

# A regulator over a whole city filters by a shop id from a link; a list that long is no use.
MERCHANT_CHOICES = 300


@dataclass(frozen=True)
class Choices:
    """What the filter bar offers this user."""

    units: list[tuple[int, str]]
    markets: list[tuple[int, str]]
    merchants: list[tuple[int, str]] | None


def today(now: datetime) -> date:
    """Return the Shanghai calendar day of a moment."""
    return now.astimezone(SHANGHAI).date()


def read_filters(args: dict[str, str], now: datetime) -> tuple[Filters, bool]:
    """Parse the query string; fall back to the default period on bad input (and say so)."""
    try:
        return Filters.from_args(args, today(now)), True
    except FilterError:
        return Filters.from_args({}, today(now)), False


def _units_in_scope(session: Session, user: User) -> list[int] | None:
    """Return the units a user may narrow to (None: any, for an admin)."""
    if user.role == "admin":
        return None
    if user.role == "regulator" and user.unit_id is not None:
        return unit_subtree(session, user.unit_id)
    return []


def scoped_where(session: Session, user: User, filters: Filters) -> list[ColumnElement[bool]]:
    """Return scope and filters as WHERE conditions; a market, shop or unit outside is a 404."""
    found = [complaint_scope(session, user), *filters.conditions()]
    if filters.market is not None:
        get_market_or_404(session, user, filters.market)
    if filters.merchant is not None:
        get_merchant_or_404(session, user, filters.merchant)
    if filters.unit is not None:
        allowed = _units_in_scope(session, user)
        if (allowed is not None and filters.unit not in allowed) or session.get(
            RegulatorUnit, filters.unit
        ) is None:
            abort(404)
        found.append(Complaint.unit_id.in_(unit_subtree(session, filters.unit)))
    return found


def scoped_facts(session: Session, user: User, filters: Filters) -> FactScope:
    """Return scoped_where in the day tables' terms (call scoped_where first: it checks access)."""
    scope = fact_scope(session, user)
    units = scope.units
    if filters.unit is not None:
        subtree = unit_subtree(session, filters.unit)
        units = tuple(subtree) if units is None else tuple(u for u in units if u in subtree)
    return replace(
        scope,
        units=units,
        market=filters.market if filters.market is not None else scope.market,
        merchant=filters.merchant if filters.merchant is not None else scope.merchant,
    )


def scope_clause(session: Session, user: User, filters: Filters) -> ColumnElement[bool]:
    """Return scoped_where as one condition."""
    return and_(*scoped_where(session, user, filters))


def choices(session: Session, user: User, market: int | None = None) -> Choices:
    """Return the units, markets and (if few) shops the filter bar lists (of one market, if set)."""
    allowed = _units_in_scope(session, user)
    unit_query = select(RegulatorUnit.id, RegulatorUnit.name).order_by(RegulatorUnit.id)
    if allowed is not None:
        unit_query = unit_query.where(RegulatorUnit.id.in_(allowed))
    # A unit list is only worth showing to someone above more than one unit.
    narrowable = allowed is None or len(allowed) > 1
    units = [(i, n) for i, n in session.execute(unit_query)] if narrowable else []
    markets = [
        (i, n)
        for i, n in session.execute(
            select(Market.id, Market.name).where(market_scope(session, user)).order_by(Market.name)
        )
    ]
    shop_query = select(Merchant.id, Merchant.name).where(merchant_scope(session, user))
    if market is not None:
        shop_query = shop_query.where(Merchant.market_id == market)
    shops = session.execute(shop_query.order_by(Merchant.name).limit(MERCHANT_CHOICES + 1)).all()
    merchants = None if len(shops) > MERCHANT_CHOICES else [(i, n) for i, n in shops]
    return Choices(units, markets, merchants)
