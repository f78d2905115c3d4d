"""Counting the metric sets in SQL: one grouped scan of a tenant's cases and their masks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from portal.categories import CATEGORIES
from portal.clock import Policy
from portal.i18n import SHANGHAI
from portal.metric_facts import (
    MetricContext,
    clock_mask,
    clock_mask_of,
    escalation_mask,
    escalation_mask_of,
    signature,
)
from portal.metric_sets import add_sets, case_set
from portal.models import Complaint, Event, Market, RegulatorUnit, StageClock
from portal.sqltime import shanghai_day

Key = tuple[Any, ...]
MAX_DAYS = 731


class FilterError(ValueError):
    """A filter cannot be used (e.g. a period longer than two years)."""


@dataclass(frozen=True)
class Filters:
    """What the figures are narrowed to; the period is in Shanghai calendar days, inclusive."""

    start: date
    end: date
    market: int | None = None
    merchant: int | None = None
    category: str | None = None
    kind: str | None = None
    unit: int | None = None

    def __post_init__(self) -> None:
        """Refuse a reversed or overlong period and unknown categories or kinds."""
        if self.end < self.start or (self.end - self.start).days > MAX_DAYS:
            raise FilterError("period")
        if self.category is not None and self.category not in CATEGORIES:
            raise FilterError("category")
        if self.kind is not None and self.kind not in ("complaint", "report"):
            raise FilterError("kind")

    @classmethod
    def from_args(cls, args: Mapping[str, str], today: date) -> Filters:
        """Read a query string; a missing period means the last 30 days up to today."""

        def number(name: str) -> int | None:
            raw = args.get(name, "")
            return int(raw) if raw.isdigit() else None

        def day(name: str, default: date) -> date:
            try:
                return date.fromisoformat(args.get(name, "")) if args.get(name) else default
            except ValueError as exc:
                raise FilterError(name) from exc

        return cls(
            start=day("start", today - timedelta(days=29)),
            end=day("end", today),
            market=number("market"),
            merchant=number("merchant"),
            unit=number("unit"),
            category=args.get("category") or None,
            kind=args.get("kind") or None,
        )

    def as_args(self, **changes: Any) -> dict[str, str]:
        """Return the filters as query arguments (with changes), for links that keep them."""
        values = {**asdict(self), **changes}
        return {k: str(v) for k, v in values.items() if v is not None}

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the WHERE conditions: period by receipt time, then the narrowing filters."""
        start = datetime.combine(self.start, time(0), tzinfo=SHANGHAI)
        end = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=SHANGHAI)
        found = [Complaint.created_at >= start, Complaint.created_at < end]
        for column, value in (
            (Complaint.market_id, self.market),
            (Complaint.merchant_id, self.merchant),
            (Complaint.category, self.category),
            (Complaint.kind, self.kind),
        ):
            if value is not None:
                found.append(column == value)
        return found


def _limit_case(column: str, markets: dict[int, Policy], units: dict[int, Policy]) -> Any:
    """Return each case's limit in minutes: its market's, else its unit's, else the default."""
    default = getattr(Policy(), column)
    whens = [
        (Complaint.market_id == m, getattr(p, column))
        for m, p in markets.items()
        if getattr(p, column) != default
    ]
    whens += [
        (Complaint.unit_id == u, getattr(p, column))
        for u, p in units.items()
        if getattr(p, column) != default
    ]
    return case(*whens, else_=default) if whens else default


TIMED_LIMITS = ("respond_minutes", "onsite_minutes", "feedback_minutes")


def overridden_policies(session: Session) -> tuple[dict[int, Policy], dict[int, Policy]]:
    """Return the policies of markets and units that override a limit (merged down the tree)."""
    rows = session.execute(select(RegulatorUnit.id, RegulatorUnit.parent_id, RegulatorUnit.policy)).all()
    parent = {uid: pid for uid, pid, _ in rows}
    own = {uid: pol for uid, _, pol in rows if pol}
    units: dict[int, Policy] = {}
    for uid in parent:
        chain: list[int] = []
        current: int | None = uid
        while current is not None and len(chain) < 10:
            chain.append(current)
            current = parent.get(current)
        if any(u in own for u in chain):
            policy = Policy()
            for u in reversed(chain):
                policy = policy.merged(own[u]) if u in own else policy
            units[uid] = policy
    markets = {
        m.id: units.get(m.unit_id, Policy()).merged(m.policy or {})
        for m in session.scalars(select(Market).where(Market.policy.is_not(None)))
    }
    return markets, units


def metric_context(session: Session, now: datetime) -> MetricContext:
    """Build the context with per-market limits; only overridden units and markets appear."""
    return context_of(*overridden_policies(session), now)


def context_of(markets: dict[int, Policy], units: dict[int, Policy], now: datetime) -> MetricContext:
    """Build the context for these overridden policies."""
    policies = [Policy(), *markets.values(), *units.values()]
    return MetricContext(
        now=now,
        **{name: _limit_case(name, markets, units) for name in TIMED_LIMITS},
        longest_minutes=max(int(getattr(policy, name)) for policy in policies for name in TIMED_LIMITS),
    )


def _per_case_statement(
    where: Sequence[ColumnElement[bool]], ctx: MetricContext, group_by: Sequence[Any]
) -> Select[Any]:
    """PostgreSQL: one pass joining each case to its clocks and escalations, then grouping."""
    per_case = (
        select(
            *[func.max(g).label(f"g{i}") for i, g in enumerate(group_by)],
            func.max(signature(ctx)).label("sig"),
            clock_mask_of(ctx).label("clocks"),
            escalation_mask_of().label("escalations"),
            func.max(Complaint.satisfaction).label("score"),
            func.max(Complaint.recovered_fen).label("money"),
        )
        .select_from(Complaint)
        .outerjoin(StageClock, StageClock.complaint_id == Complaint.id)
        .outerjoin(Event, (Event.complaint_id == Complaint.id) & (Event.kind == "escalated"))
        .where(*where)
        .group_by(Complaint.id)
        .subquery()
    )
    keys = [per_case.c[f"g{i}"] for i in range(len(group_by))]
    facts = (per_case.c.sig, per_case.c.clocks, per_case.c.escalations)
    return select(
        *keys, *facts, func.count(), func.sum(per_case.c.score), func.sum(per_case.c.money)
    ).group_by(*keys, *facts)


def _correlated_statement(
    where: Sequence[ColumnElement[bool]], ctx: MetricContext, group_by: Sequence[Any]
) -> Select[Any]:
    """SQLite: a correlated lookup of each case's masks beats joining and re-grouping."""
    sig = signature(ctx)
    clock, escalation = func.coalesce(clock_mask(ctx), 0), func.coalesce(escalation_mask(), 0)
    return (
        select(
            *group_by,
            sig,
            clock,
            escalation,
            func.count(),
            func.sum(Complaint.satisfaction),
            func.sum(Complaint.recovered_fen),
        )
        .where(*where)
        .group_by(*group_by, sig, clock, escalation)
    )


def count_sets(
    session: Session, where: Sequence[ColumnElement[bool]], ctx: MetricContext, group_by: Sequence[Any] = ()
) -> dict[Key, dict[str, int]]:
    """Count every set per group: one GROUP BY over the cases' facts, decoded once per signature."""
    build = _correlated_statement if session.get_bind().dialect.name == "sqlite" else _per_case_statement
    stmt = build(where, ctx, group_by)
    width = len(group_by)
    found: dict[Key, dict[str, int]] = {}
    for row in session.execute(stmt):
        cells: tuple[Any, ...] = tuple(row)
        packed, clock_bits, escalation_bits, n, score, money = cells[width:]
        add_sets(
            found.setdefault(cells[:width], {}),
            int(packed),
            int(clock_bits),
            int(escalation_bits),
            int(n),
            int(score or 0),
            int(money or 0),
        )
    return found


def trend_counts(
    session: Session, where: Sequence[ColumnElement[bool]], ctx: MetricContext
) -> dict[Key, dict[str, int]]:
    """Count received, valid and closed per (Shanghai day, category): the charts' inputs.

    A second, light scan: grouping the full count by day as well would multiply its groups.
    """
    names = ("received", "valid", "closed")
    columns = [func.sum(case((case_set(name, ctx), 1), else_=0)) for name in names]
    day = shanghai_day(Complaint.created_at)
    stmt = select(day, Complaint.category, *columns).where(*where).group_by(day, Complaint.category)
    return {
        (d, c): dict(zip(names, (int(v or 0) for v in values), strict=True))
        for d, c, *values in session.execute(stmt)
    }


def total(groups: Mapping[Any, Mapping[str, int]]) -> dict[str, int]:
    """Add the counts of every group."""
    summed: dict[str, int] = defaultdict(int)
    for counts in groups.values():
        for name, value in counts.items():
            summed[name] += value
    return dict(summed)
