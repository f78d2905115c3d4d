"""Reading the dashboard's figures from the pre-aggregated day tables (portal/models/facts.py).

A regulator's subtree is summed from insight_unit_day (a district's year is a few thousand
rows); anything narrowed to a market or a shop from insight_shop_day. The tables hold
settled facts (portal.facts_upkeep), caught up with the queue of changed cases before every
read (portal.facts_queue). The cases that still have a deadline ahead are measured again
now: their stored contribution is taken away and their live one added.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, func, or_, select, union, union_all
from sqlalchemy.orm import Session

from portal.bulk import among
from portal.facts_queue import catch_up_before_reading
from portal.metric_facts import MetricContext
from portal.metric_sets import add_sets
from portal.metrics_query import Filters, count_sets
from portal.models import CaseFact, Complaint, Merchant, ShopDay, ShopMonth, StageClock, UnitDay, UnitMonth
from portal.models.facts import ALL_CATEGORIES, COUNT_COLUMNS

TOP = 10
# Ids per IN list: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
ID_CHUNK = 10_000


@dataclass(frozen=True)
class FactScope:
    """The cases a viewer may count, in the day tables' columns; None means "no limit".

    Built beside the Complaint scope (merchants/insight_scope.py), filters included.
    """

    units: tuple[int, ...] | None = None
    market: int | None = None
    merchant: int | None = None
    # A merchant sees neither reports nor hidden cases.
    complaints_only: bool = False

    @property
    def by_unit(self) -> bool:
        """Say whether the unit table can answer (no market, shop or merchant's view)."""
        return self.market is None and self.merchant is None and not self.complaints_only


@dataclass
class Figures:
    """What the dashboard shows besides the rates: counts, days, categories, top shops."""

    counts: dict[str, int]
    days: dict[str, tuple[int, int]]
    categories: dict[str, int]
    merchants: list[tuple[int, str, int]] = field(default_factory=list)


def _columns(table: Any) -> Any:
    return table.__table__.c


def _period(c: Any, filters: Filters) -> list[ColumnElement[bool]]:
    return [c.day >= filters.start.isoformat(), c.day <= filters.end.isoformat()]


def _shop_where(scope: FactScope, filters: Filters, table: Any = ShopDay) -> list[ColumnElement[bool]]:
    """Return scope and filters on a table keyed by shop and day (insight_shop_day, case_fact)."""
    c = _columns(table)
    found = _period(c, filters)
    if scope.units is not None:
        # Narrowed to a market or a shop, that index is far more selective than the subtree's;
        # `unit_id + 0` keeps the planner off the unit indexes (SQLite took them: 17 -> 5 ms).
        unit = c.unit_id if scope.by_unit else c.unit_id + 0
        found.append(unit.in_(scope.units))
    for column, value in (
        (c.market_id, scope.market),
        (c.merchant_id, scope.merchant),
        (c.category, filters.category),
        (c.kind, filters.kind),
    ):
        if value is not None:
            found.append(column == value)
    if scope.complaints_only:
        found += [c.kind == "complaint", c.visible == 1]
    return found


def _unit_where(
    scope: FactScope, filters: Filters, category: str | None, months: tuple[str, str] | None = None
) -> list[ColumnElement[bool]]:
    """Return scope and filters on insight_unit_day, or on insight_unit_month for `months`."""
    c = _columns(UnitDay if months is None else UnitMonth)
    found = _period(c, filters) if months is None else [c.month >= months[0], c.month <= months[1]]
    if scope.units is not None:
        found.append(c.unit_id.in_(scope.units))
    if filters.kind:
        found.append(c.kind == filters.kind)
    if category is not None:
        found.append(c.category == category)
    else:
        found.append(c.category != ALL_CATEGORIES)
    return found


def _sum_rows(table: Any, where: Sequence[ColumnElement[bool]], *keys: Any) -> Select[Any]:
    """Return the sums of every count column over the rows, grouped by `keys`."""
    c = _columns(table)
    return select(*keys, *[func.sum(c[name]) for name in COUNT_COLUMNS]).where(*where).group_by(*keys)


def _sums(session: Session, parts: Sequence[Select[Any]]) -> dict[str, int]:
    """Add up the count columns of every row the parts (one statement) return."""
    return _sums_of(session.execute(_all_of(parts)))


def _sums_of(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """Add up the count columns, the last of each row."""
    found: dict[str, int] = {}
    for row in rows:
        for name, value in zip(COUNT_COLUMNS, row[-len(COUNT_COLUMNS) :], strict=True):
            if value:
                found[name] = found.get(name, 0) + int(value)
    return found


def _all_of(parts: Sequence[Select[Any]]) -> Select[Any] | CompoundSelect[Any]:
    """Return the parts as one statement: one round trip, each part still planned on its own."""
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _days(session: Session, table: Any, where: Sequence[ColumnElement[bool]]) -> dict[str, tuple[int, int]]:
    c = _columns(table)
    stmt = select(c.day, func.sum(c.received), func.sum(c.closed)).where(*where).group_by(c.day)
    return {str(day): (int(r or 0), int(k or 0)) for day, r, k in session.execute(stmt)}


def _category_rows(table: Any, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    c = _columns(table)
    return select(c.category, func.sum(c.valid)).where(*where).group_by(c.category)


def _categories(session: Session, parts: Sequence[Select[Any]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for category, n in session.execute(_all_of(parts)):
        found[str(category)] = found.get(str(category), 0) + int(n or 0)
    return {category: n for category, n in found.items() if n}


@dataclass(frozen=True)
class Split:
    """A period as whole calendar months ('YYYY-MM', first and last) and the days around them."""

    months: tuple[str, str] | None
    edges: tuple[Filters, ...]


def split_period(filters: Filters) -> Split:
    """Split the period into whole months and the (at most two) runs of days outside them."""
    start, end = filters.start, filters.end
    first = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = end + timedelta(days=1)
    stop = after.replace(day=1)  # the first day after the last whole month
    if first >= stop:
        return Split(None, (filters,))
    last = (stop - timedelta(days=1)).replace(day=1)
    runs = ((start, first - timedelta(days=1)), (stop, end))
    edges = tuple(replace(filters, start=a, end=b) for a, b in runs if a <= b)
    return Split((f"{first:%Y-%m}", f"{last:%Y-%m}"), edges)


def _valid_per_shop(table: Any, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """Return (merchant_id, valid cases) per shop of a shop table's rows (0 is "no shop")."""
    c = _columns(table)
    return (
        select(c.merchant_id, func.sum(c.valid).label("valid"))
        .where(*where, c.merchant_id != 0)
        .group_by(c.merchant_id)
    )


def _ranked(session: Session, parts: Sequence[Select[Any]]) -> list[tuple[int, str, int]]:
    """Name the shops with the most valid cases over the parts: (id, name, count), most first.

    Ranked and named by the database: a district has a thousand shops, a city five thousand.
    """
    shops = _all_of(parts).subquery()
    n = func.sum(shops.c.valid)
    top = (
        select(shops.c.merchant_id, n.label("n"))
        .group_by(shops.c.merchant_id)
        .having(n > 0)
        .order_by(n.desc(), shops.c.merchant_id)
        .limit(TOP)
        .subquery()
    )
    stmt = (
        select(top.c.merchant_id, Merchant.name, top.c.n)
        .join(Merchant, Merchant.id == top.c.merchant_id)
        .order_by(top.c.n.desc(), top.c.merchant_id)
    )
    return [(int(i), str(name), int(count)) for i, name, count in session.execute(stmt)]


def _unit_top_merchants(
    session: Session, scope: FactScope, filters: Filters, split: Split
) -> list[tuple[int, str, int]]:
    """Rank shops over whole months from insight_shop_month and the days around from shop days."""
    if filters.category or split.months is None:
        return _ranked(session, [_valid_per_shop(ShopDay, _shop_where(scope, filters))])
    m = _columns(ShopMonth)
    where = [m.month >= split.months[0], m.month <= split.months[1]]
    if scope.units is not None:
        where.append(m.unit_id.in_(scope.units))
    if filters.kind:
        where.append(m.kind == filters.kind)
    edges = [_valid_per_shop(ShopDay, _shop_where(scope, edge)) for edge in split.edges]
    return _ranked(session, [_valid_per_shop(ShopMonth, where), *edges])


def _unit_figures(session: Session, scope: FactScope, filters: Filters) -> Figures:
    """Sum a subtree's figures: whole months from insight_unit_month, other days by day."""
    split = split_period(filters)
    pieces: list[tuple[Any, Filters, tuple[str, str] | None]] = [(UnitDay, e, None) for e in split.edges]
    if split.months is not None:
        pieces.append((UnitMonth, filters, split.months))
    category = filters.category or ALL_CATEGORIES
    counts = [_sum_rows(t, _unit_where(scope, f, category, m)) for t, f, m in pieces]
    categories = [_category_rows(t, _unit_where(scope, f, filters.category, m)) for t, f, m in pieces]
    return Figures(
        counts=_sums(session, counts),
        days=_days(session, UnitDay, _unit_where(scope, filters, category)),
        categories=_categories(session, categories),
        merchants=_unit_top_merchants(session, scope, filters, split),
    )


def stored_figures(session: Session, scope: FactScope, filters: Filters) -> Figures:
    """Sum the settled figures of the scope and filters from the day tables."""
    if scope.by_unit:
        return _unit_figures(session, scope, filters)
    where = _shop_where(scope, filters)
    # One pass by category gives both the totals and the categories chart.
    by_category = {str(row[0]): row for row in session.execute(_sum_rows(ShopDay, where, ShopDay.category))}
    valid = 1 + COUNT_COLUMNS.index("valid")
    return Figures(
        counts=_sums_of(by_category.values()),
        days=_days(session, ShopDay, where),
        categories={category: int(row[valid]) for category, row in by_category.items() if row[valid]},
        merchants=_ranked(session, [_valid_per_shop(ShopDay, where)]),
    )


def live_cases(ctx: MetricContext) -> CompoundSelect[Any]:
    """Return the ids of cases with a deadline still ahead: their figures are not yet settled."""
    now = ctx.now
    recent = now - timedelta(minutes=ctx.longest_minutes)
    k = StageClock
    return union(
        # A reply, arrival or feedback still awaited can turn from pending to missed.
        select(Complaint.id).where(
            Complaint.created_at >= recent,
            Complaint.kind == "complaint",
            or_(
                Complaint.first_response_at.is_(None),
                Complaint.feedback_at.is_(None),
                and_(Complaint.on_site.is_(True), Complaint.onsite_at.is_(None)),
            ),
        ),
        select(Complaint.id).where(Complaint.stage_due_at >= now, Complaint.status != "closed"),
        select(k.complaint_id).where(k.due_at >= now, k.stopped_at.is_(None), k.paused_since.is_(None)),
    )


def _stored_sets(session: Session, cases: Sequence[int]) -> dict[str, int]:
    """Count the stored (settled) facts of these cases."""
    f = _columns(CaseFact)
    stmt = (
        select(
            f.signature,
            f.clocks,
            f.escalations,
            func.count(),
            func.sum(f.satisfaction),
            func.sum(f.recovered_fen),
        )
        .where(among(session, f.complaint_id, cases))
        .group_by(f.signature, f.clocks, f.escalations)
    )
    counts: dict[str, int] = {}
    for packed, clocks, escalations, n, score, money in session.execute(stmt):
        add_sets(counts, int(packed), int(clocks), int(escalations), int(n), int(score or 0), int(money or 0))
    return counts


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK)]


def correct_live(
    session: Session, counts: dict[str, int], scope: FactScope, filters: Filters, ctx: MetricContext
) -> dict[str, int]:
    """Replace the settled contribution of the cases still running by their contribution now.

    The running cases are found by their deadlines alone (few: recent or due soon), then
    narrowed on case_fact by primary key: with the scope on the complaints in the same query,
    SQLite walked the scope's index (a district's year) instead. The ids travel as lists, not
    subqueries: a planner that misjudges a subquery's size would scan a million cases (or
    their clocks) to join them. On PostgreSQL a list is one array parameter: thousands of
    separate ones cost more to render and parse than to run.
    """
    f = _columns(CaseFact)
    live = sorted(session.scalars(live_cases(ctx)))
    dims = _shop_where(scope, filters, CaseFact)
    running = [
        int(i)
        for chunk in _chunks(live)
        for i in session.scalars(select(f.complaint_id).where(among(session, f.complaint_id, chunk), *dims))
    ]
    fixed = dict(counts)
    for chunk in _chunks(running):
        for name, value in _stored_sets(session, chunk).items():
            fixed[name] = fixed.get(name, 0) - value
        measured = count_sets(session, [among(session, Complaint.id, chunk)], ctx).get((), {})
        for name, value in measured.items():
            fixed[name] = fixed.get(name, 0) + value
    return {name: value for name, value in fixed.items() if value}


def figures(session: Session, scope: FactScope, filters: Filters, ctx: MetricContext) -> Figures:
    """Return the figures of the scope and filters as they stand at ctx.now."""
    catch_up_before_reading(session)
    found = stored_figures(session, scope, filters)
    found.counts = correct_live(session, found.counts, scope, filters, ctx)
    return found


def period_days(filters: Filters) -> list[date]:
    """Return every day of the period."""
    return [filters.start + timedelta(days=i) for i in range((filters.end - filters.start).days + 1)]
