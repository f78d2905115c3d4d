"""Which promise applies: defaults, overridden by the regulator unit, then the market."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import Policy
from portal.models import CalendarDay, Market, Merchant, RegulatorUnit
from portal.workdays import WorkCalendar


def unit_chain(session: Session, unit_id: int) -> list[RegulatorUnit]:
    """Return the unit and its ancestors, nearest first."""
    chain: list[RegulatorUnit] = []
    current: int | None = unit_id
    while current is not None and len(chain) < 10:
        unit = session.get(RegulatorUnit, current)
        if unit is None:
            break
        chain.append(unit)
        current = unit.parent_id
    return chain


def policy_for(session: Session, *, unit_id: int, market: Market | None) -> Policy:
    """Merge the defaults with the city, district, office and market overrides, in order."""
    policy = Policy()
    for unit in reversed(unit_chain(session, unit_id)):
        if unit.policy:
            policy = policy.merged(unit.policy)
    if market is not None and market.policy:
        policy = policy.merged(market.policy)
    return policy


def merchant_policy(session: Session, merchant: Merchant) -> Policy:
    """Return the promise that the merchant's poster and form show."""
    return policy_for(session, unit_id=merchant.unit_id, market=merchant.market)


def work_calendar(session: Session) -> WorkCalendar:
    """Build the working-day calendar from admin-loaded days over the package."""
    rows = session.execute(select(CalendarDay.day, CalendarDay.is_working)).all()
    return WorkCalendar({day: working for day, working in rows})
