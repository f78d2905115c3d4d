"""The monthly 消费维权分析报告: overall figures, then per unit and per shop, for one month."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from portal.dashboard import Dashboard, build_dashboard
from portal.metrics import Rate, average_satisfaction, closure_rate, on_time_closure_rate
from portal.metrics_query import Filters, count_sets, metric_context
from portal.models import Complaint, Merchant

MAX_SHOPS = 300


class MonthError(ValueError):
    """The month is not YYYY-MM."""


@dataclass(frozen=True)
class ReportRow:
    """One line of a table: a unit or a shop and its counts."""

    key: int
    name: str
    counts: Mapping[str, int]

    @property
    def in_progress(self) -> int:
        """Open cases still within their deadline."""
        c = self.counts
        return c.get("open_new", 0) + c.get("open_handling", 0) - c.get("overdue", 0)

    @property
    def closure(self) -> Rate:
        """办结率 of this line."""
        return closure_rate(self.counts)

    @property
    def on_time(self) -> Rate:
        """Share of closed cases closed without a missed deadline."""
        return on_time_closure_rate(self.counts)

    @property
    def satisfaction(self) -> float | None:
        """Average score of this line."""
        return average_satisfaction(self.counts)


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the printable report shows."""

    title: str
    month: str
    board: Dashboard
    units: list[ReportRow]
    shops: list[ReportRow]
    shops_total: int


def month_period(month: str | None, today: date) -> tuple[str, Filters]:
    """Return the month (default: the previous one) and its filters, first to last day."""
    if not month:
        last = today.replace(day=1) - timedelta(days=1)
        month = f"{last:%Y-%m}"
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError as exc:
        raise MonthError(month) from exc
    end = first.replace(day=calendar.monthrange(year, number)[1])
    return f"{first:%Y-%m}", Filters(start=first, end=end)


def _counts_by(
    session: Session, where: Sequence[ColumnElement[bool]], now: datetime, column: Any
) -> dict[Any, dict[str, int]]:
    """Count every set grouped by one column."""
    ctx = metric_context(session, now)
    grouped = count_sets(session, where, ctx, (column,))
    return {key[0]: counts for key, counts in grouped.items()}


def unit_rows(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    now: datetime,
    units: Sequence[tuple[int, str, Sequence[int]]],
) -> list[ReportRow]:
    """Return one row per reporting unit, each summing the units of its subtree."""
    by_unit = _counts_by(session, where, now, Complaint.unit_id)
    rows = []
    for key, name, members in units:
        summed: dict[str, int] = {}
        for member in members:
            for metric, value in by_unit.get(member, {}).items():
                summed[metric] = summed.get(metric, 0) + value
        rows.append(ReportRow(key, name, summed))
    return rows


def shop_rows(
    session: Session, where: Sequence[ColumnElement[bool]], now: datetime
) -> tuple[list[ReportRow], int]:
    """Return the shops with cases, most cases first (at most MAX_SHOPS), and how many there are."""
    by_shop = _counts_by(session, where, now, Complaint.merchant_id)
    by_shop.pop(None, None)
    ranked = sorted(by_shop.items(), key=lambda item: (-item[1].get("received", 0), item[0]))
    names = {
        i: n
        for i, n in session.execute(
            select(Merchant.id, Merchant.name).where(Merchant.id.in_([key for key, _ in ranked[:MAX_SHOPS]]))
        )
    }
    rows = [ReportRow(key, names.get(key, "?"), counts) for key, counts in ranked[:MAX_SHOPS]]
    return rows, len(ranked)


def build_report(
    session: Session,
    scope: ColumnElement[bool],
    title: str,
    month: str,
    filters: Filters,
    now: datetime,
    units: Sequence[tuple[int, str, Sequence[int]]],
) -> MonthlyReport:
    """Assemble the report for a scope (a unit subtree or a market) and a month."""
    where = [scope, *filters.conditions()]
    shops, shops_total = shop_rows(session, where, now)
    return MonthlyReport(
        title=title,
        month=month,
        board=build_dashboard(session, scope, filters, now),
        units=unit_rows(session, where, now, units) if units else [],
        shops=shops,
        shops_total=shops_total,
    )
