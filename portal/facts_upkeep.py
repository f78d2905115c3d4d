"""Keeping the pre-aggregated insight tables equal to a recount of the cases.

A case's figures depend on `now` only while one of its deadlines is still ahead (a pending
reply becomes "missed", an open case becomes overdue, a running clock becomes late). The
tables therefore hold each case's *settled* facts, measured as if every deadline had passed;
the dashboard corrects the few cases with a deadline still ahead (portal.facts_query).
Settled facts change only when the case does, so every transaction that touches a case,
an event or a clock queues it (portal.facts_queue), and the catch-up re-measures the queued
cases: the old contribution (kept in case_fact) is subtracted and the new one added. A change
of a market's or unit's time limits changes settled facts without touching cases: run
`kuaisu insight rebuild` after one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.metric_facts import MetricContext, clock_mask, escalation_mask, signature
from portal.metric_sets import add_sets, stored_set
from portal.metrics_query import context_of, metric_context, overridden_policies
from portal.models import CaseFact, CaseFactQueue, Complaint, ShopDay, ShopMonth, UnitDay, UnitMonth
from portal.models.facts import ALL_CATEGORIES, COUNT_COLUMNS, SET_COLUMNS
from portal.sqltime import shanghai_day

# "Every deadline has passed": later than any clock can run.
FOREVER = datetime(2200, 1, 1, tzinfo=UTC)
_FACT_COLUMNS = [c.name for c in CaseFact.__table__.columns]
Key = tuple[Any, ...]
Deltas = dict[Any, dict[Key, dict[str, int]]]
# Statements every commit runs, built once: building them cost more than running them.
_UPSERTS: dict[tuple[str, Any], Any] = {}
_SETTLED: dict[str, Select[Any]] = {}


def settled_context(session: Session) -> MetricContext:
    """Return the measuring context in which every deadline has passed, with today's limits."""
    return metric_context(session, FOREVER)


def case_facts_select(ctx: MetricContext) -> Select[Any]:
    """Return each case's row of case_fact, measured in `ctx` (one index probe per mask)."""
    c = Complaint
    return select(
        c.id,
        shanghai_day(c.created_at),
        c.unit_id,
        func.coalesce(c.market_id, 0),
        func.coalesce(c.merchant_id, 0),
        c.category,
        c.kind,
        case((c.hidden_at.is_(None), 1), else_=0),
        signature(ctx),
        func.coalesce(clock_mask(ctx), 0),
        func.coalesce(escalation_mask(), 0),
        func.coalesce(c.satisfaction, 0),
        func.coalesce(c.recovered_fen, 0),
    )


def _add_case(deltas: Deltas, fact: Mapping[str, Any], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) one case's contribution to every day table."""
    counts: dict[str, int] = {}
    add_sets(
        counts,
        fact["signature"],
        fact["clocks"],
        fact["escalations"],
        1,
        fact["satisfaction"],
        fact["recovered_fen"],
    )
    signed = {name: sign * value for name, value in counts.items()}
    day, unit, kind = fact["day"], fact["unit_id"], fact["kind"]
    keys = [
        (
            ShopDay,
            (unit, day, fact["merchant_id"], fact["market_id"], fact["category"], kind, fact["visible"]),
        ),
        (UnitDay, (unit, fact["category"], day, kind)),
        (UnitDay, (unit, ALL_CATEGORIES, day, kind)),
        (UnitMonth, (unit, fact["category"], day[:7], kind)),
        (UnitMonth, (unit, ALL_CATEGORIES, day[:7], kind)),
    ]
    for table, key in keys:
        row = deltas.setdefault(table, {}).setdefault(key, {})
        for name, value in signed.items():
            row[name] = row.get(name, 0) + value
    if "valid" in counts and fact["merchant_id"]:
        month = deltas.setdefault(ShopMonth, {}).setdefault((unit, day[:7], fact["merchant_id"], kind), {})
        month["valid"] = month.get("valid", 0) + sign


def _key_names(table: Any) -> list[str]:
    return [column.name for column in table.__table__.primary_key]


def _upsert(dialect: str, table: Any) -> Any:
    """Return the statement that adds a row of deltas to a day table, built once per dialect."""
    key = (dialect, table)
    found = _UPSERTS.get(key)
    if found is None:
        build = postgresql.insert if dialect == "postgresql" else sqlite.insert
        names = _key_names(table)
        stmt = build(table.__table__)
        columns = table.__table__.c
        found = stmt.on_conflict_do_update(
            index_elements=names,
            set_={c.name: c + stmt.excluded[c.name] for c in columns if c.name not in names},
        )
        _UPSERTS[key] = found
    return found


def _apply(session: Session, deltas: Deltas) -> None:
    """Add the deltas to the day tables: insert a new key, or add to the existing row."""
    dialect = session.get_bind().dialect.name
    for table in (ShopDay, UnitDay, UnitMonth, ShopMonth):
        names = _key_names(table)
        counted = [c.name for c in table.__table__.c if c.name not in names]
        rows = [
            {**dict(zip(names, key, strict=True)), **{name: changes.get(name, 0) for name in counted}}
            for key, changes in sorted(deltas.get(table, {}).items())
            if any(changes.values())
        ]
        if rows:
            session.execute(_upsert(dialect, table), rows)


def _settled_query(session: Session) -> Select[Any]:
    """Return the query of settled facts for listed cases, built once per set of time limits."""
    markets, units = overridden_policies(session)
    key = repr((sorted(markets.items()), sorted(units.items())))
    found = _SETTLED.get(key)
    if found is None:
        if len(_SETTLED) >= 16:
            _SETTLED.clear()
        ctx = context_of(markets, units, FOREVER)
        found = case_facts_select(ctx).where(Complaint.id.in_(bindparam("ids", expanding=True)))
        _SETTLED[key] = found
    return found


def refresh_cases(session: Session, ids: Iterable[int]) -> int:
    """Re-measure these cases and move their contributions; return how many changed."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    lock = session.get_bind().dialect.name == "postgresql"
    table = CaseFact.__table__
    stored_query = select(*table.c).where(table.c.complaint_id.in_(wanted))
    # PostgreSQL: hold the rows, so a concurrent change of the same case (or a rebuild) waits.
    stored_query = stored_query.with_for_update() if lock else stored_query
    old = {row[0]: counted_row(row) for row in session.execute(stored_query)}
    new = {
        row[0]: counted_row(row)
        for row in session.execute(_settled_query(session), {"ids": wanted})
    }
    deltas: Deltas = {}
    changed = [i for i in wanted if old.get(i) != new.get(i)]
    for case_id in changed:
        if case_id in old:
            _add_case(deltas, old[case_id], -1)
        if case_id in new:
            _add_case(deltas, new[case_id], 1)
    if changed:
        session.execute(delete(CaseFact).where(CaseFact.complaint_id.in_(changed)))
        fresh = [new[i] for i in changed if i in new]
        if fresh:
            session.execute(insert(CaseFact), fresh)
        _apply(session, deltas)
    return len(changed)


def _set_sums(f: Any) -> list[ColumnElement[int]]:
    """Return SUM expressions of every count column over case_fact rows `f`."""
    sets = {name: stored_set(name, f.signature, f.clocks, f.escalations) for name in SET_COLUMNS}
    sums = [func.sum(case((condition, 1), else_=0)) for condition in sets.values()]
    return [
        *sums,
        func.sum(case((sets["rated"], f.satisfaction), else_=0)),
        func.sum(case((sets["valid"], f.recovered_fen), else_=0)),
    ]


def rebuild(session: Session) -> int:
    """Recompute every table from the cases, inside the database; return the cases counted."""
    # First: a change committed after this statement stays queued, and is caught up later.
    for table in (CaseFactQueue, CaseFact, ShopDay, UnitDay, UnitMonth, ShopMonth):
        session.execute(delete(table))
    source = case_facts_select(settled_context(session))
    session.execute(insert(CaseFact).from_select(_FACT_COLUMNS, source))
    f = CaseFact.__table__.c
    sums = _set_sums(f)
    shop_keys = [f.unit_id, f.day, f.merchant_id, f.market_id, f.category, f.kind, f.visible]
    unit_keys = [f.unit_id, f.category, f.day, f.kind]
    counts = list(COUNT_COLUMNS)
    month = func.substr(f.day, 1, 7)
    for table, keys, selected in (
        (ShopDay, shop_keys, shop_keys),
        (UnitDay, unit_keys, unit_keys),
        (UnitDay, [f.unit_id, f.day, f.kind], [f.unit_id, literal(ALL_CATEGORIES), f.day, f.kind]),
        (UnitMonth, [f.unit_id, f.category, month, f.kind], [f.unit_id, f.category, month, f.kind]),
        (UnitMonth, [f.unit_id, month, f.kind], [f.unit_id, literal(ALL_CATEGORIES), month, f.kind]),
    ):
        names = [*_key_names(table), *counts]
        grouped = select(*selected, *sums).group_by(*keys)
        session.execute(insert(table).from_select(names, grouped))
    valid = func.sum(case((stored_set("valid", f.signature, f.clocks, f.escalations), 1), else_=0))
    monthly = (
        select(f.unit_id, month, f.merchant_id, f.kind, valid)
        .where(f.merchant_id != 0)
        .group_by(f.unit_id, month, f.merchant_id, f.kind)
        .having(valid > 0)
    )
    session.execute(insert(ShopMonth).from_select([*_key_names(ShopMonth), "valid"], monthly))
    for table in (CaseFact, ShopDay, UnitDay, UnitMonth, ShopMonth):
        # Fresh statistics, so the planner knows the new tables' size at once.
        session.execute(text(f"ANALYZE {table.__tablename__}"))
    return int(session.scalar(select(func.count()).select_from(CaseFact)) or 0)


def counted_row(row: Row[Any]) -> dict[str, Any]:
    """Return a row in case_fact's column order as a dict."""
    return dict(zip(_FACT_COLUMNS, row, strict=True))
