"""The pre-aggregated insight tables equal a recount of the complaints, after real case events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from portal.closing import close, hide, record_outcome
from portal.dashboard import recount_figures
from portal.db import new_session
from portal.escalation import escalate
from portal.facts_query import FactScope, Figures, figures, split_period
from portal.facts_queue import catch_up
from portal.facts_upkeep import rebuild
from portal.lifecycle import record_arrival, reply, take
from portal.metrics_query import Filters, metric_context
from portal.models import CaseFact, Complaint, ShopDay, ShopMonth, UnitDay, UnitMonth
from portal.resolution import rate
from portal.sweep import run_sweep
from tests.conftest import NOW
from tests.factories import Factory, make_user

SALT = "test-secret-key-0123456789abcdef"
M = timedelta(minutes=1)
PERIOD = Filters(start=date(2026, 9, 20), end=date(2026, 11, 30))


def _step(session: Session, complaint: Complaint, action: Any, *args: Any, when: datetime, **kw: Any) -> None:
    """Run one staff service on the case at `when` and commit, as a request would."""
    session.refresh(complaint)
    action(session, complaint, *args, version=complaint.version, now=when, salt=SALT, **kw)
    session.commit()


@pytest.fixture
def world(session: Session, factory: Factory) -> dict[str, Any]:
    """A district with two offices, two markets (one with a faster promise), four shops, and a
    month and a half of cases taken through real events: replies, arrivals, outcomes, closing,
    hiding, escalation (by hand and by the sweep) and ratings."""
    district = factory.make_unit("第一区市场监督管理局", level="district")
    office_a = factory.make_unit("甲所", parent=district)
    office_b = factory.make_unit("乙所", parent=district)
    fast = factory.make_market(office_a, name="快市场", policy={"respond_minutes": 30})
    slow = factory.make_market(office_b, name="慢市场")
    shops = [
        factory.make_merchant(fast, name="一号店", category="quality"),
        factory.make_merchant(fast, name="二号店", category="food"),
        factory.make_merchant(slow, name="三号店", category="price"),
        factory.make_merchant(None, name="街边店", unit=office_b, category="food"),
    ]
    station = {m.id: make_user(session, "station", market=m) for m in (fast, slow)}
    regulator = make_user(session, "regulator", unit=office_b)
    cases: list[Complaint] = []
    for i in range(24):
        shop = shops[i % 4]
        created = NOW - timedelta(days=40) + i * timedelta(hours=41)
        kind = "report" if i % 7 == 3 else "complaint"
        cases.append(factory.make_complaint(shop, now=created, kind=kind, on_site=i % 3 == 0).complaint)
    for i, case in enumerate(cases):
        t = case.created_at
        staff = station.get(case.market_id or 0, regulator)
        if case.kind == "report" or i % 6 == 5:
            continue  # left alone: the sweep escalates what runs late
        _step(session, case, take, staff, when=t + (10 + i) * M)
        _step(session, case, reply, staff, "已联系商户。", when=t + (20 + 3 * i) * M)
        if case.on_site and i % 2 == 0:
            arrived = t + (60 + 5 * i) * M
            _step(session, case, record_arrival, staff, when=arrived, at=arrived)
        if i % 5 == 1:
            escalate(session, case, reason="商户拒不配合", actor=staff, now=t + 3 * 60 * M, salt=SALT)
            session.commit()
        if i % 8 == 2:
            _step(session, case, hide, staff, "重复投诉", when=t + 4 * 60 * M)
            continue
        if i % 4 != 3:
            outcome = ("self_settled", "mediated", "failed")[i % 3]
            _step(session, case, record_outcome, staff, outcome, 1000 * i, when=t + (600 + 60 * i) * M)
            _step(session, case, close, staff, when=t + (700 + 60 * i) * M)
            if i % 2 == 0:
                session.refresh(case)
                rate(session, case, score=1 + i % 5, comment="", now=t + 800 * 60 * M, salt=SALT)
                session.commit()
    run_sweep(new_session, NOW - timedelta(days=2), SALT)
    # Fresh cases whose clocks still run at NOW: new (reply pending), and red (feedback pending).
    factory.make_complaint(shops[0], now=NOW - 20 * M)
    red = factory.make_complaint(shops[2], now=NOW - 3 * 60 * M, on_site=True).complaint
    _step(session, red, take, station[slow.id], when=NOW - 170 * M)
    _step(session, red, reply, station[slow.id], "马上到。", when=NOW - 160 * M)
    return {"district": district, "offices": (office_a, office_b), "markets": (fast, slow), "shops": shops}


def _scopes(world: dict[str, Any]) -> list[tuple[str, FactScope, ColumnElement[bool]]]:
    office_a, office_b = world["offices"]
    fast, _slow = world["markets"]
    one = world["shops"][0]
    units = (world["district"].id, office_a.id, office_b.id)
    return [
        ("everything", FactScope(), true()),
        ("district", FactScope(units=units), Complaint.unit_id.in_(units)),
        ("office b", FactScope(units=(office_b.id,)), Complaint.unit_id == office_b.id),
        ("market", FactScope(market=fast.id), Complaint.market_id == fast.id),
        (
            "district narrowed to a market",
            FactScope(units=units, market=fast.id),
            Complaint.unit_id.in_(units) & (Complaint.market_id == fast.id),
        ),
        (
            "merchant's own view",
            FactScope(merchant=one.id, complaints_only=True),
            (Complaint.merchant_id == one.id)
            & (Complaint.kind == "complaint")
            & Complaint.hidden_at.is_(None),
        ),
    ]


def _both(
    session: Session, scope: FactScope, clause: ColumnElement[bool], filters: Filters, now: datetime
) -> tuple[Figures, Figures]:
    ctx = metric_context(session, now)
    where = [clause, *filters.conditions()]
    return figures(session, scope, filters, ctx), recount_figures(session, where, ctx)


MOMENTS = (NOW, NOW + 50 * M, NOW + timedelta(days=30))
FILTERS = (
    PERIOD,
    Filters(start=date(2026, 10, 1), end=date(2026, 10, 31)),
    Filters(start=date(2026, 10, 20), end=date(2026, 11, 23), kind="complaint"),
    Filters(start=PERIOD.start, end=PERIOD.end, category="food"),
    Filters(start=date(2026, 11, 22), end=date(2026, 11, 23)),
)


@pytest.mark.parametrize("moment", MOMENTS, ids=["now", "in 50 minutes", "in a month"])
def test_day_tables_equal_a_recount(session: Session, world: dict[str, Any], moment: datetime) -> None:
    """Every figure, for every scope and filter, equals the recount from the complaints."""
    checked = 0
    for name, scope, clause in _scopes(world):
        for filters in FILTERS:
            stored, recounted = _both(session, scope, clause, filters, moment)
            label = f"{name} {filters}"
            assert stored.counts == {k: v for k, v in recounted.counts.items() if v}, label
            assert {d: v for d, v in stored.days.items() if any(v)} == {
                d: v for d, v in recounted.days.items() if any(v)
            }, label
            assert stored.categories == {c: n for c, n in recounted.categories.items() if n}, label
            assert stored.merchants == recounted.merchants, label
            checked += stored.counts.get("received", 0)
    assert checked > 100


def test_the_mix_covers_what_the_rates_need(session: Session, world: dict[str, Any]) -> None:
    """The fixture really has hidden, escalated, rated and unrated, closed and open cases."""
    stored, _ = _both(session, FactScope(), true(), PERIOD, NOW)
    for name in (
        "hidden",
        "escalated_station",
        "escalated_regulator",
        "rated",
        "closed",
        "open_handling",
        "respond_late",
        "respond_on_time",
        "onsite_on_time",
        "self_settled",
        "mediated",
        "failed",
        "reports",
        "late_respond",
    ):
        assert stored.counts.get(name, 0) > 0, name
    assert stored.counts["rated"] < stored.counts["closed"]


def _tables(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """Return every non-empty row of the facts tables."""
    found = {}
    for model in (CaseFact, ShopDay, UnitDay, UnitMonth, ShopMonth):
        table = model.__table__
        rows = session.execute(select(*table.c)).all()
        counts = [c.name for c in table.c if not c.primary_key]
        found[table.name] = {
            tuple(r) for r in rows if any(getattr(r, n) for n in counts) or model is CaseFact
        }
    return found


def test_rebuild_gives_the_tables_the_events_kept(session: Session, world: dict[str, Any]) -> None:
    """Recounting from scratch yields exactly what the queued changes maintained one by one."""
    writer = new_session(write=True)
    assert catch_up(writer) > 0
    writer.commit()
    writer.close()
    session.commit()  # a fresh snapshot, after the catch-up
    kept = _tables(session)
    assert len(kept["case_fact"]) == session.query(Complaint).count()
    assert rebuild(session) == len(kept["case_fact"])
    session.commit()
    assert _tables(session) == kept


@pytest.mark.parametrize(
    ("start", "end", "months", "edges"),
    [
        (
            date(2026, 9, 20),
            date(2026, 11, 30),
            ("2026-10", "2026-11"),
            [(date(2026, 9, 20), date(2026, 9, 30))],
        ),
        (date(2026, 10, 1), date(2026, 10, 31), ("2026-10", "2026-10"), []),
        (date(2026, 10, 20), date(2026, 11, 23), None, [(date(2026, 10, 20), date(2026, 11, 23))]),
        (
            date(2025, 11, 24),
            date(2026, 11, 23),
            ("2025-12", "2026-10"),
            [(date(2025, 11, 24), date(2025, 11, 30)), (date(2026, 11, 1), date(2026, 11, 23))],
        ),
    ],
)
def test_a_period_splits_into_whole_months_and_days(
    start: date, end: date, months: tuple[str, str] | None, edges: list[tuple[date, date]]
) -> None:
    """Whole months come from the month table; only the days around them are read by day."""
    split = split_period(Filters(start=start, end=end))
    assert split.months == months
    assert [(e.start, e.end) for e in split.edges] == edges
