"""The dashboard's figures for a scope and filters: totals, rates, trends, categories, shops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from portal.categories import category_label
from portal.facts_query import FactScope, Figures, figures, period_days
from portal.metric_facts import DUTY_STAGES, MetricContext
from portal.metric_sets import STAGE_LABELS
from portal.metrics import RATES, Rate, RateDef, average_satisfaction, stage_on_time_rate
from portal.metrics_query import Filters, count_sets, metric_context, trend_counts
from portal.models import Complaint, Merchant

TOP = 10


@dataclass(frozen=True)
class StageRow:
    """One stage's timeliness over its clocks at every rung: on-time rate and late cases."""

    key: str
    label: Any
    rate: Rate
    late: int


@dataclass
class Dashboard:
    """Everything the dashboard, the report and the exports show for one scope and filters."""

    filters: Filters
    counts: dict[str, int]
    rates: list[tuple[RateDef, Rate]]
    satisfaction: float | None
    days: list[tuple[date, int, int]]
    weeks: list[tuple[date, int, int]]
    categories: list[tuple[str, str, int]]
    merchants: list[tuple[int, str, int]]
    stages: list[StageRow] = field(default_factory=list)

    @property
    def recovered_yuan(self) -> str:
        """Return the money recovered in yuan with two decimals."""
        return f"{self.counts.get('recovered_fen', 0) / 100:,.2f}"


def stage_rows(counts: dict[str, int]) -> list[StageRow]:
    """Return the per-stage timeliness rows, for the stages that ran at all."""
    return [
        StageRow(
            stage, STAGE_LABELS[stage], stage_on_time_rate(counts, stage), counts.get(f"late_{stage}", 0)
        )
        for stage in DUTY_STAGES
        if counts.get(f"decided_{stage}", 0)
    ]


def recount_figures(session: Session, where: Sequence[ColumnElement[bool]], ctx: MetricContext) -> Figures:
    """Count the figures from the complaints themselves (the reference the day tables equal)."""
    days: dict[str, tuple[int, int]] = {}
    categories: dict[str, int] = {}
    for (day, category), group in trend_counts(session, where, ctx).items():
        received, closed = days.get(str(day), (0, 0))
        days[str(day)] = (received + group.get("received", 0), closed + group.get("closed", 0))
        categories[category] = categories.get(category, 0) + group.get("valid", 0)
    return Figures(
        counts=count_sets(session, where, ctx).get((), {}),
        days=days,
        categories=categories,
        merchants=top_merchants(session, where),
    )


def weeks_of(days: Sequence[tuple[date, int, int]]) -> list[tuple[date, int, int]]:
    """Sum days into weeks starting on Monday."""
    weeks: dict[date, list[int]] = {}
    for day, received, closed in days:
        entry = weeks.setdefault(day - timedelta(days=day.weekday()), [0, 0])
        entry[0] += received
        entry[1] += closed
    return [(start, r, c) for start, (r, c) in sorted(weeks.items())]


def top_merchants(
    session: Session, where: Sequence[ColumnElement[bool]], limit: int = TOP
) -> list[tuple[int, str, int]]:
    """Return the shops with the most valid cases: (id, name, count)."""
    n = func.count(Complaint.id)
    ranked = (
        select(Complaint.merchant_id, n)
        .where(*where, Complaint.hidden_at.is_(None), Complaint.merchant_id.is_not(None))
        .group_by(Complaint.merchant_id)
        .order_by(n.desc(), Complaint.merchant_id)
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.merchant_id, Merchant.name, ranked.c[1])
        .join(Merchant, Merchant.id == ranked.c.merchant_id)
        .order_by(ranked.c[1].desc(), ranked.c.merchant_id)
    ).all()
    return [(int(i), str(name), int(count)) for i, name, count in rows]


def build_dashboard(
    session: Session,
    scope: ColumnElement[bool],
    filters: Filters,
    now: datetime,
    ctx: MetricContext | None = None,
    facts: FactScope | None = None,
) -> Dashboard:
    """Gather the figures for the scope and filters and derive the rates.

    With `facts` (the same scope in the day tables' terms) they come from the pre-aggregated
    tables; without, from a recount of the complaints.
    """
    ctx = ctx or metric_context(session, now)
    where = [scope, *filters.conditions()]
    found = recount_figures(session, where, ctx) if facts is None else figures(session, facts, filters, ctx)
    counts = found.counts
    days = [(d, *found.days.get(d.isoformat(), (0, 0))) for d in period_days(filters)]
    return Dashboard(
        filters=filters,
        counts=counts,
        rates=[(rate, rate.compute(counts)) for rate in RATES],
        satisfaction=average_satisfaction(counts),
        days=days,  # type: ignore[arg-type]
        weeks=weeks_of(days),  # type: ignore[arg-type]
        categories=sorted(
            ((code, category_label(code), n) for code, n in found.categories.items() if n),
            key=lambda item: (-item[2], item[0]),
        ),
        merchants=found.merchants,
        stages=stage_rows(counts),
    )
