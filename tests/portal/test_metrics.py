"""Every rate against a hand-computed fixture; the drill-down lists what the count counted."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from portal import metrics
from portal.audit import append_event
from portal.dashboard import build_dashboard
from portal.metric_cases import case_page, count_cases
from portal.metric_facts import MetricContext
from portal.metric_sets import SETS, case_set
from portal.metrics import Rate
from portal.metrics_query import FilterError, Filters, count_sets, metric_context, total
from portal.models import Complaint, StageClock
from tests.conftest import NOW
from tests.factories import Factory

SALT = "test-secret-key-0123456789abcdef"
NOVEMBER = Filters(start=date(2026, 11, 1), end=date(2026, 11, 23))
M = timedelta(minutes=1)


def _case(factory: Factory, merchant, created: datetime, **fields) -> Complaint:  # type: ignore[no-untyped-def]
    kind = fields.pop("kind", "complaint")
    on_site = fields.pop("on_site", False)
    complaint = factory.make_complaint(merchant, now=created, kind=kind, on_site=on_site).complaint
    for name, value in fields.items():
        setattr(complaint, name, value)
    factory.session.commit()
    return complaint


def _stop(session: Session, complaint: Complaint, stage: str, at: datetime, **extra: object) -> None:
    clock = session.scalars(
        select(StageClock).where(StageClock.complaint_id == complaint.id, StageClock.stage == stage)
    ).one()
    clock.stopped_at, clock.stop_reason = at, "test"
    for name, value in extra.items():
        setattr(clock, name, value)
    session.commit()


def _escalate(session: Session, complaint: Complaint, to: str) -> None:
    append_event(
        session,
        complaint,
        "escalated",
        now=complaint.created_at + 50 * M,
        salt=SALT,
        actor_role="system",
        data={"from": "merchant", "to": to},
    )
    session.commit()


@pytest.fixture
def seeded(session: Session, factory: Factory) -> dict[str, Complaint]:
    """Eight cases in November (one hidden, one report) and one in October, one elsewhere."""
    merchant = factory.make_merchant(name="甲店")
    t = NOW - timedelta(days=3)
    cases = {
        "c1": _case(
            factory,
            merchant,
            t,
            first_response_at=t + 30 * M,
            feedback_at=t + 600 * M,
            outcome="self_settled",
            status="closed",
            closed_at=t + 700 * M,
            recovered_fen=10000,
            satisfaction=5,
            rated_at=t + 800 * M,
        ),
        "c2": _case(
            factory,
            merchant,
            t,
            on_site=True,
            first_response_at=t + 60 * M,
            onsite_at=t + 80 * M,
            feedback_at=t + 30 * 60 * M,
            outcome="mediated",
            status="closed",
            closed_at=t + 2000 * M,
            recovered_fen=5000,
            satisfaction=3,
            rated_at=t + 2100 * M,
        ),
        "c3": _case(factory, merchant, NOW - timedelta(days=2)),
        "c4": _case(factory, merchant, NOW - 10 * M),
        "c5": _case(
            factory,
            merchant,
            t,
            first_response_at=t + 45 * M,
            outcome="failed",
            status="closed",
            closed_at=t + 3000 * M,
        ),
        "c6": _case(factory, merchant, t, hidden_at=t + 5 * M, hidden_reason="spam"),
        "c7": _case(factory, merchant, t, kind="report", status="handling"),
        "c8": _case(
            factory,
            merchant,
            t,
            first_response_at=t + 20 * M,
            feedback_at=t + 120 * M,
            outcome="not_accepted",
            status="closed",
            closed_at=t + 130 * M,
        ),
    }
    _case(factory, merchant, datetime(2026, 10, 31, 15, 59, tzinfo=NOW.tzinfo))  # 23:59 on 31 Oct
    _case(factory, factory.make_merchant(name="乙店"), t)  # another market and unit
    # Stage clocks, as the staff's steps would have stopped them (c3, c4 and c7 still run).
    for name, respond, feedback in (("c1", 30, 600), ("c2", 60, 1800), ("c5", 45, 3000), ("c8", 20, 120)):
        _stop(session, cases[name], "respond", t + respond * M)
        _stop(session, cases[name], "feedback", t + feedback * M)
    _stop(session, cases["c2"], "onsite", t + 80 * M)
    verify = session.scalars(
        select(StageClock).where(StageClock.complaint_id == cases["c7"].id, StageClock.stage == "verify")
    ).one()
    verify.extended = True
    session.commit()
    _escalate(session, cases["c5"], "station")
    _escalate(session, cases["c5"], "regulator")
    return cases


def _counts(session: Session, scope, filters: Filters = NOVEMBER) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ctx = metric_context(session, NOW)
    where = [scope, *filters.conditions()]
    return total(count_sets(session, where, ctx))


def test_every_rate_matches_the_hand_count(session: Session, seeded: dict[str, Complaint]) -> None:
    scope = Complaint.merchant_id == seeded["c1"].merchant_id
    c = _counts(session, scope)
    assert (c["received"], c["hidden"], c["valid"], c["accepted"]) == (8, 1, 7, 6)
    assert (c["closed"], c["open_new"], c["open_handling"], c["overdue"]) == (4, 2, 1, 1)
    assert metrics.closure_rate(c) == Rate(4, 7)
    # c4 is ten minutes old: its respond clock has no verdict yet. c5 at exactly 45:00 is on time.
    assert metrics.respond_rate(c) == Rate(3, 5)
    assert metrics.onsite_rate(c) == Rate(1, 1)
    assert metrics.feedback_rate(c) == Rate(2, 5)
    assert metrics.self_settlement_rate(c) == Rate(1, 4)
    assert metrics.mediation_success_rate(c) == Rate(1, 2)
    assert metrics.rated_share(c) == Rate(2, 4)
    assert metrics.average_satisfaction(c) == 4.0
    assert metrics.escalation_rate(c, "station") == Rate(1, 6)
    assert metrics.escalation_rate(c, "regulator") == Rate(1, 6)
    assert c["recovered_fen"] == 15000


def test_stage_clocks_give_on_time_rates_per_stage(session: Session, seeded: dict[str, Complaint]) -> None:
    c = _counts(session, Complaint.merchant_id == seeded["c1"].merchant_id)
    # c3's clocks run past their deadlines; c4's are not due yet; a stop at 45:00 is on time.
    assert metrics.stage_on_time_rate(c, "respond") == Rate(3, 5)
    assert metrics.stage_on_time_rate(c, "onsite") == Rate(1, 1)
    assert metrics.stage_on_time_rate(c, "feedback") == Rate(2, 5)
    assert metrics.stage_on_time_rate(c, "verify") == Rate(0, 0)
    assert (c["late_any"], c["closed_late"], c["extended"]) == (3, 2, 1)
    assert metrics.on_time_closure_rate(c) == Rate(2, 4)


def test_empty_period_is_no_data_not_an_error(session: Session, seeded: dict[str, Complaint]) -> None:
    c = _counts(session, true(), Filters(start=date(2025, 1, 1), end=date(2025, 1, 31)))
    for rate in metrics.RATES:
        assert rate.compute(c).value is None
        assert rate.compute(c).percent() == "—"
    assert metrics.average_satisfaction(c) is None


def test_period_edges_are_shanghai_days(session: Session, seeded: dict[str, Complaint]) -> None:
    # 2026-10-31 15:59 UTC is 23:59 on 31 October in Shanghai: October, not November.
    october = Filters(start=date(2026, 10, 31), end=date(2026, 10, 31))
    assert _counts(session, true(), october)["received"] == 1


@pytest.mark.parametrize("key", sorted(SETS))
def test_drill_down_lists_exactly_what_was_counted(
    session: Session, seeded: dict[str, Complaint], key: str
) -> None:
    ctx = metric_context(session, NOW)
    where = [true(), *NOVEMBER.conditions()]
    counted = _counts(session, true()).get(key, 0)
    assert count_cases(session, where, ctx, key) == counted
    listed = case_page(session, where, ctx, key, size=100).rows
    assert len(listed) == counted


def test_drill_down_pages_by_keyset(session: Session, seeded: dict[str, Complaint]) -> None:
    ctx = metric_context(session, NOW)
    where = [true(), *NOVEMBER.conditions()]
    first = case_page(session, where, ctx, "received", size=5)
    second = case_page(session, where, ctx, "received", before=first.next_before, size=5)
    ids = [r.complaint.id for r in first.rows + second.rows]
    assert len(ids) == len(set(ids)) == 9 and second.next_before is None


def test_market_policy_changes_the_limit(session: Session, factory: Factory) -> None:
    market = factory.make_market(name="快市场", policy={"respond_minutes": 20})
    merchant = factory.make_merchant(market)
    t = NOW - timedelta(days=1)
    _case(factory, merchant, t, first_response_at=t + 30 * M)
    c = _counts(session, Complaint.market_id == market.id)
    assert metrics.respond_rate(c) == Rate(0, 1)


def test_dashboard_assembles_trends_and_rankings(session: Session, seeded: dict[str, Complaint]) -> None:
    with force_locale("zh_Hans_CN"):
        board = build_dashboard(session, true(), NOVEMBER, NOW)
        assert board.categories[0][1] == "产品质量"
    assert len(board.days) == 23 and sum(r for _d, r, _c in board.days) == 9
    assert sum(r for _w, r, _c in board.weeks) == 9
    assert board.merchants[0][1] == "甲店" and board.merchants[0][2] == 7
    assert board.categories[0][2] == 8
    assert {row.key: row.late for row in board.stages}["respond"] == 3  # c2, c3 and 乙店


def test_filters_refuse_bad_input() -> None:
    with pytest.raises(FilterError):
        Filters(start=date(2026, 2, 1), end=date(2026, 1, 1))
    with pytest.raises(FilterError):
        Filters.from_args({"start": "2026-13-01"}, date(2026, 11, 23))
    with pytest.raises(FilterError):
        Filters(start=date(2026, 1, 1), end=date(2026, 1, 2), category="nope")


def test_case_set_rejects_unknown_keys() -> None:
    with pytest.raises(KeyError):
        case_set("nope", MetricContext(NOW))
