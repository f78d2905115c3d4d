"""Monthly public disclosure: complaints per market and per shop, with a minimum-volume rule.

Only complaints are published; reports (举报) never appear per shop (Order 121 keeps the
reporter confidential and a report is not a verdict). Hidden cases (abuse, duplicates) are
not counted against a shop. No personal data is read: only counts, names of shops and markets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from portal.metrics import Rate, average_satisfaction, self_settlement_rate
from portal.metrics_query import count_sets, metric_context, total
from portal.models import Complaint, Market, Merchant
from portal.monthly_report import month_period

OUTSIDE_MARKETS = 0  # the "market" of shops that stand alone


class NoSuchMonthError(ValueError):
    """The month is malformed, in the future or before the service began."""


@dataclass(frozen=True)
class PublicLine:
    """One published line: counts always; rates only from `minimum` complaints up."""

    key: int
    name: str
    received: int
    closed: int
    closed_on_time: int
    self_settlement: Rate
    satisfaction: float | None
    minimum: int

    @property
    def shows_rates(self) -> bool:
        """Say whether there are enough complaints for a rate to mean something."""
        return self.received >= self.minimum


@dataclass(frozen=True)
class Disclosure:
    """A month's page: the total, then one line per market (or per shop of one market)."""

    month: str
    minimum: int
    total: PublicLine
    lines: list[PublicLine]
    market: PublicLine | None


def public_line(key: int, name: str, counts: Mapping[str, int], minimum: int) -> PublicLine:
    """Build a line from counted sets; hidden cases are left out of `received`."""
    return PublicLine(
        key,
        name,
        counts.get("valid", 0),
        counts.get("closed", 0),
        counts.get("closed_on_time", 0),
        self_settlement_rate(counts),
        average_satisfaction(counts),
        minimum,
    )


def _grouped(
    session: Session, where: list[ColumnElement[bool]], now: datetime, column: Any
) -> dict[int, dict[str, int]]:
    """Count the sets per market or per shop (NULL becomes OUTSIDE_MARKETS)."""
    ctx = metric_context(session, now)
    grouped = count_sets(session, where, ctx, (column,))
    return {key[0] if key[0] is not None else OUTSIDE_MARKETS: counts for key, counts in grouped.items()}


def disclosure(
    session: Session, month: str, *, now: datetime, today: date, minimum: int, market: int | None = None
) -> Disclosure:
    """Return the month's figures: all markets, or the shops of one market (0: standalone)."""
    try:
        label, filters = month_period(month, today)
    except ValueError as exc:
        raise NoSuchMonthError(month) from exc
    if filters.start > today:
        raise NoSuchMonthError(month)
    where = [Complaint.kind == "complaint", *filters.conditions()]
    if market is None:
        by_market = _grouped(session, where, now, Complaint.market_id)
        names = _names(session, Market, list(by_market))
        lines = [
            public_line(key, str(names.get(key, "")), counts, minimum) for key, counts in by_market.items()
        ]
        return Disclosure(
            label, minimum, public_line(0, "", total(by_market), minimum), _ordered(lines), None
        )
    where.append(
        Complaint.market_id.is_(None) if market == OUTSIDE_MARKETS else Complaint.market_id == market
    )
    by_shop = _grouped(session, where, now, Complaint.merchant_id)
    shops = _names(session, Merchant, list(by_shop))
    lines = [
        public_line(key, str(shops.get(key, "")), counts, minimum)
        for key, counts in by_shop.items()
        if key != OUTSIDE_MARKETS
    ]
    market_name = (
        ""
        if market == OUTSIDE_MARKETS
        else str(session.scalar(select(Market.name).where(Market.id == market)) or "")
    )
    summed = public_line(market, market_name, total(by_shop), minimum)
    return Disclosure(label, minimum, summed, _ordered(lines), summed)


def _names(session: Session, model: type[Market] | type[Merchant], ids: list[int]) -> dict[int, str]:
    """Return the names of markets or shops by id."""
    rows = session.execute(select(model.id, model.name).where(model.id.in_(ids)))
    return {key: name for key, name in rows}


def _ordered(lines: list[PublicLine]) -> list[PublicLine]:
    """Most complaints first, then by name, so the page reads the same every time."""
    return sorted(lines, key=lambda line: (-line.received, line.name, line.key))


def recent_months(today: date, count: int = 12) -> list[str]:
    """Return this month and the ones before it, newest first."""
    year, month = today.year, today.month
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found
