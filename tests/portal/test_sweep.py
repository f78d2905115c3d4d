"""The sweep issues each reminder, urge and escalation at its moment, exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import portal.sweep as sweep_module
from portal.cli import cli
from portal.db import get_engine
from portal.models import Complaint, Event, StageCard, StageClock
from portal.stages import record_progress
from portal.sweeplock import sweep_lock
from tests.conftest import NOW
from tests.factories import Factory
from tests.portal.sweeping import (
    card_keys,
    digest_lines,
    events,
    fresh,
    kinds,
    running,
    start_sweep_child,
    sweep_at,
    sweep_in_child,
)

SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def _progress(session: Session, complaint: Complaint, trigger: str, when: Any) -> None:
    """Record a staff step the way the board's services do, and commit it."""
    case = fresh(session, complaint)
    record_progress(session, case, trigger, when)
    session.commit()


def _event_counts(session: Session) -> Counter[str]:
    session.rollback()
    return Counter(dict(session.execute(select(Event.kind, func.count()).group_by(Event.kind)).all()))


def test_every_card_of_the_respond_clock_at_its_moment(
    app: Flask, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    assert sweep_at(app, NOW + timedelta(minutes=22, seconds=29)).counts == {}
    assert sweep_at(app, NOW + timedelta(minutes=22, seconds=30)).counts == {"reminder": 1}
    assert sweep_at(app, NOW + timedelta(minutes=35, seconds=59)).counts == {}
    assert sweep_at(app, NOW + 36 * MIN).counts == {"urge": 1}
    assert sweep_at(app, NOW + 45 * MIN).counts == {}  # the 45th minute itself keeps the promise
    report = sweep_at(app, NOW + 45 * MIN + SEC)
    assert report.counts == {"escalated": 1} and report.late == 0
    case = fresh(session, complaint)
    assert (case.rung, case.status, case.escalation_cause) == ("station", "new", "breach")
    assert case.escalated_at == NOW + 45 * MIN + SEC
    assert kinds(session, complaint) == ["submitted", "reminder", "urge", "escalated"]
    escalated = events(session, complaint, "escalated")[0]
    assert escalated.public and escalated.data["to"] == "station" and escalated.data["stage"] == "respond"
    assert escalated.data["to_name"] == "万博装饰市场维权站"
    clocks = running(session, complaint)
    assert set(clocks) == {"respond", "feedback", "return"}
    assert clocks["respond"].due_at == NOW + 90 * MIN + SEC and clocks["respond"].rung == "station"
    assert case.stage == "respond" and case.stage_due_at == NOW + 90 * MIN + SEC
    assert len(card_keys(session)) == 3


def test_on_site_clock_cards_and_breach(app: Flask, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint(on_site=True).complaint
    _progress(session, complaint, "replied", NOW + 10 * MIN)  # the respond clock stops
    assert set(running(session, complaint)) == {"onsite", "feedback"}
    assert sweep_at(app, NOW + 45 * MIN).counts == {"reminder": 1}
    assert sweep_at(app, NOW + 72 * MIN).counts == {"urge": 1}
    assert sweep_at(app, NOW + 90 * MIN + SEC).counts == {"escalated": 1}
    escalated = events(session, complaint, "escalated")[0]
    assert escalated.data["stage"] == "onsite"
    # The station now owes an arrival of its own (nobody arrived yet).
    assert "onsite" in running(session, complaint)


def test_feedback_clock_cards_and_breach(app: Flask, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    _progress(session, complaint, "taken", NOW + 5 * MIN)
    assert sweep_at(app, NOW + 12 * HOUR).counts == {"reminder": 1}
    assert sweep_at(app, NOW + timedelta(hours=19, minutes=12)).counts == {"urge": 1}
    assert sweep_at(app, NOW + 24 * HOUR).counts == {}
    assert sweep_at(app, NOW + 24 * HOUR + SEC).counts == {"escalated": 1}
    assert fresh(session, complaint).rung == "station"


def test_arrival_and_feedback_stop_their_clocks(app: Flask, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint(on_site=True).complaint
    _progress(session, complaint, "taken", NOW + 5 * MIN)
    _progress(session, complaint, "arrived", NOW + 30 * MIN)
    _progress(session, complaint, "proposed", NOW + 60 * MIN)
    assert running(session, complaint) == {}
    assert sweep_at(app, NOW + 48 * HOUR).counts == {}
    assert fresh(session, complaint).stage is None


def test_an_escalation_stops_the_clocks_that_had_nothing_due(
    app: Flask, session: Session, factory: Factory
) -> None:
    # At 46 minutes respond has breached and on site (90 min) is past half; feedback (24 h) has
    # nothing due, yet the climb stops it with the rest of the rung.
    climbing = factory.make_complaint(on_site=True).complaint
    staying = factory.make_complaint(on_site=True).complaint
    _progress(session, staying, "taken", NOW + 5 * MIN)
    before = {c.stage: (c.id, c.next_card, c.next_card_at) for c in running(session, staying).values()}
    report = sweep_at(app, NOW + 46 * MIN)
    assert report.counts == {"reminder": 3, "urge": 1, "escalated": 1}  # staying: on site's reminder
    session.rollback()
    stopped = session.scalars(select(StageClock).where(StageClock.complaint_id == climbing.id)).all()
    merchant_rung = {c.stage: c for c in stopped if c.rung == "merchant"}
    assert set(merchant_rung) == {"respond", "onsite", "feedback"}
    assert {(c.stopped_at, c.stop_reason, c.next_card_at) for c in merchant_rung.values()} == {
        (NOW + 46 * MIN, "escalated", None)
    }
    assert set(running(session, climbing)) == {"respond", "onsite", "feedback", "return"}
    assert {c.rung for c in running(session, climbing).values()} == {"station"}
    after = {c.stage: (c.id, c.next_card, c.next_card_at) for c in running(session, staying).values()}
    assert after["feedback"] == before["feedback"]  # nothing due: untouched
    assert after["onsite"][1] == "urge"


def test_the_ladder_station_then_regulator(app: Flask, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    sweep_at(app, NOW + 46 * MIN)
    report = sweep_at(app, NOW + 92 * MIN)
    assert report.counts == {"reminder": 1, "urge": 1, "escalated": 1}
    case = fresh(session, complaint)
    assert case.rung == "regulator" and case.identity_requested_at == NOW + 92 * MIN
    to = events(session, complaint, "escalated")[-1].data
    assert (to["from"], to["to"], to["to_name"]) == ("station", "regulator", "英雄南路市场监管所")
    # Order 121: no accept clock until the shopper gives name and address; the return window runs.
    assert set(running(session, complaint)) == {"return"}
    assert events(session, complaint, "identity_requested")[0].data == {"missing": ["name", "address"]}


def test_a_standalone_merchant_goes_straight_to_its_regulator(
    app: Flask, session: Session, factory: Factory
) -> None:
    unit = factory.make_unit()
    merchant = factory.make_merchant(unit=unit, name="华联超市")
    complaint = factory.make_complaint(merchant, name="李女士").complaint
    sweep_at(app, NOW + 46 * MIN)
    case = fresh(session, complaint)
    assert case.rung == "regulator"
    assert events(session, complaint, "escalated")[0].data["to"] == "regulator"


def test_a_late_run_issues_everything_missed_marked_late(
    app: Flask, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    late = NOW + 3 * HOUR  # the server was down across every card's moment
    report = sweep_at(app, late)
    assert report.counts == {"reminder": 1, "urge": 1, "escalated": 1} and report.late == 3
    session.rollback()
    cards = session.scalars(select(StageCard).order_by(StageCard.due_at)).all()
    assert [(c.kind, c.late, c.due_at) for c in cards] == [
        ("reminder", True, NOW + timedelta(minutes=22, seconds=30)),
        ("urge", True, NOW + 36 * MIN),
        ("breach", True, NOW + 45 * MIN + timedelta(microseconds=1)),
    ]
    assert all(e.data["late"] for e in events(session, complaint, "reminder"))
    # The station's clocks start when it receives the case, not at the merchant's breach.
    assert running(session, complaint)["respond"].started_at == late
    assert sweep_at(app, late).counts == {}


def test_running_twice_issues_nothing_more(app: Flask, session: Session, factory: Factory) -> None:
    for _ in range(3):
        factory.make_complaint()
    first = sweep_at(app, NOW + 40 * MIN)
    assert first.counts == {"reminder": 3, "urge": 3}
    again = sweep_at(app, NOW + 40 * MIN)
    assert again.counts == {} and again.skipped == 0
    assert _event_counts(session)["reminder"] == 3


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_a_case_whose_clocks_straddle_a_batch_boundary_is_swept_whole(
    app: Flask, session: Session, factory: Factory, batch: int
) -> None:
    # Three clocks each (respond, on site, feedback): a batch of one clock still takes the
    # whole case, and the next batch finds its other clocks already moved on.
    merchant = factory.make_merchant()
    cases = [factory.make_complaint(merchant, on_site=True).complaint for _ in range(3)]
    report = sweep_at(app, NOW + 50 * MIN, batch=batch)
    # Per case: respond reminder, urge and breach; on site's reminder (at 45:00, just before
    # the breach at 45:00 and a microsecond); the climb stops the rest.
    assert report.counts == {"reminder": 6, "urge": 3, "escalated": 3} and report.skipped == 0
    assert len(card_keys(session)) == len(set(card_keys(session))) == 12
    for case in cases:
        assert kinds(session, case) == ["submitted", "reminder", "urge", "reminder", "escalated"]
        clocks = running(session, case)
        assert {c.rung for c in clocks.values()} == {"station"}
        # The station's clocks wait for their own reminders: the next-card column is kept.
        assert all(c.next_card == "reminder" and c.next_card_at == c.reminder_at for c in clocks.values())
    session.rollback()
    due = select(func.count()).select_from(StageClock).where(StageClock.next_card_at <= NOW + 50 * MIN)
    assert session.scalar(due) == 0
    assert sweep_at(app, NOW + 50 * MIN, batch=batch).counts == {}


def test_a_claimed_card_is_never_issued_twice(app: Flask, session: Session, factory: Factory) -> None:
    """Exactly-once holds without the lock: a clock re-read as still due loses its claim."""
    complaint = factory.make_complaint().complaint
    sweep_at(app, NOW + 23 * MIN)
    # As if a second sweep had read this clock before the first one committed.
    session.execute(
        update(StageClock)
        .where(StageClock.complaint_id == complaint.id, StageClock.stage == "respond")
        .values(next_card="reminder", next_card_at=NOW + timedelta(minutes=22, seconds=30))
    )
    session.commit()
    report = sweep_at(app, NOW + 23 * MIN)
    assert report.counts == {} and report.skipped == 1
    assert len(events(session, complaint, "reminder")) == 1
    assert running(session, complaint)["respond"].next_card == "urge"


def test_two_sweeps_at_the_same_time_in_threads(app: Flask, session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    cases = [factory.make_complaint(merchant).complaint for _ in range(12)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sweep_at(app, NOW + 50 * MIN, batch=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = _event_counts(session)
    assert (counts["reminder"], counts["urge"], counts["escalated"]) == (12, 12, 12)
    assert len(card_keys(session)) == len(set(card_keys(session))) == 36
    assert {fresh(session, c).rung for c in cases} == {"station"}


def test_two_sweeps_at_the_same_time_in_processes(
    app: Flask, session: Session, factory: Factory, database_url: str
) -> None:
    merchant = factory.make_merchant()
    for _ in range(10):
        factory.make_complaint(merchant)
    salt = app.config["PHONE_SALT"]
    pool = [start_sweep_child(database_url, NOW + 50 * MIN, salt) for _ in range(3)]
    for process in pool:
        process.join(60)
    assert [p.exitcode for p in pool] == [0, 0, 0]
    counts = _event_counts(session)
    assert (counts["reminder"], counts["urge"], counts["escalated"]) == (10, 10, 10)


def test_a_sweep_killed_halfway_is_finished_by_the_next(
    app: Flask, session: Session, factory: Factory, database_url: str
) -> None:
    merchant = factory.make_merchant()
    for _ in range(10):
        factory.make_complaint(merchant)
    salt = app.config["PHONE_SALT"]
    # Batches of 7 clocks: the first batch commits, the process dies inside the second.
    assert sweep_in_child(database_url, NOW + 50 * MIN, salt, exit_after=25) == 3
    partial = _event_counts(session)
    assert 0 < partial["escalated"] < 10
    assert sweep_in_child(database_url, NOW + 50 * MIN, salt) == 0
    counts = _event_counts(session)
    assert (counts["reminder"], counts["urge"], counts["escalated"]) == (10, 10, 10)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(StageCard)) == 30


def test_an_error_midway_rolls_back_only_its_batch(
    app: Flask, session: Session, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = factory.make_merchant()
    for _ in range(6):
        factory.make_complaint(merchant)
    real_act, calls = sweep_module._act, [0]

    def failing_act(*args: Any, **kwargs: Any) -> str:
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError("disk full")
        return real_act(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_act", failing_act)
    with pytest.raises(RuntimeError):
        sweep_at(app, NOW + 40 * MIN, batch=2)
    assert _event_counts(session)["reminder"] == 2  # the first batch (2 cases) committed
    monkeypatch.setattr(sweep_module, "_act", real_act)
    assert sweep_at(app, NOW + 40 * MIN).counts == {"reminder": 4, "urge": 4}
    counts = _event_counts(session)
    assert (counts["reminder"], counts["urge"]) == (6, 6)


def test_a_clock_stepping_back_neither_doubles_nor_skips(
    app: Flask, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    assert sweep_at(app, NOW + 40 * MIN).counts == {"reminder": 1, "urge": 1}
    # NTP steps the server clock back ten minutes: the next run sees an earlier now.
    assert sweep_at(app, NOW + 30 * MIN).counts == {}
    assert sweep_at(app, NOW + 10 * MIN).counts == {}
    assert sweep_at(app, NOW + 46 * MIN).counts == {"escalated": 1}
    assert sweep_at(app, NOW + 44 * MIN).counts == {}
    assert kinds(session, complaint) == ["submitted", "reminder", "urge", "escalated"]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_a_wrong_server_time_zone_changes_nothing(
    app: Flask, session: Session, factory: Factory, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    complaint = factory.make_complaint().complaint
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        runner = app.test_cli_runner()
        early = runner.invoke(cli, ["sla", "sweep", "--now", "2026-11-23T14:22:29+08:00"])
        assert early.exit_code == 0, early.output
        assert "nothing due" in early.output
        result = runner.invoke(cli, ["sla", "sweep", "--now", "2026-11-23T06:22:30Z"])
        assert result.exit_code == 0, result.output
        assert f"{complaint.case_number} reminder respond@merchant" in result.output
        session.rollback()
        card = session.scalars(select(StageCard)).one()
        assert card.due_at == NOW + timedelta(minutes=22, seconds=30) and not card.late
    finally:
        monkeypatch.undo()
        time.tzset()


def test_cli_refuses_a_time_without_offset(app: Flask) -> None:
    result = app.test_cli_runner().invoke(cli, ["sla", "sweep", "--now", "2026-11-23T14:22:30"])
    assert result.exit_code == 2 and "offset" in result.output


def test_cli_prints_what_it_did(app: Flask, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    result = app.test_cli_runner().invoke(cli, ["sla", "sweep", "--now", "2026-11-23T06:50:00Z"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        f"{complaint.case_number} reminder respond@merchant late",
        f"{complaint.case_number} urge respond@merchant late",
        f"{complaint.case_number} escalated respond@merchant late",
    ]
    assert lines[-1] == "sweep: 1 escalated, 1 reminder, 1 urge; 3 late; 0 already issued"


def test_one_sweep_at_a_time(app: Flask, factory: Factory) -> None:
    factory.make_complaint()
    with app.app_context():
        engine = get_engine()
        with sweep_lock(engine) as first:
            assert first
            with sweep_lock(engine) as second:
                assert not second
            busy = app.test_cli_runner().invoke(cli, ["sla", "sweep", "--now", "2026-11-23T06:50:00Z"])
            assert "another sweep is running" in busy.output and busy.exit_code == 0
        with sweep_lock(engine) as again:
            assert again


def test_a_markets_own_promise_sets_its_clocks(app: Flask, session: Session, factory: Factory) -> None:
    # Xi'an's station promises to be on site within 30 minutes (data, not code).
    market = factory.make_market(name="西安小寨市场", policy={"onsite_minutes": 30, "respond_minutes": 20})
    complaint = factory.make_complaint(factory.make_merchant(market), on_site=True).complaint
    clocks = running(session, complaint)
    assert clocks["respond"].due_at == NOW + 20 * MIN and clocks["onsite"].due_at == NOW + 30 * MIN
    assert sweep_at(app, NOW + 15 * MIN).counts == {"reminder": 2}
    assert sweep_at(app, NOW + 16 * MIN).counts == {"urge": 1}


def test_cards_and_escalations_reach_the_notification_outbox_as_one_digest_per_recipient(
    app: Flask, session: Session, factory: Factory
) -> None:
    from portal.models import Delivery, NotificationChannel
    from tests.factories import make_user

    app.config.update(SMTP_HOST="127.0.0.1", NOTIFY_KICK=False)
    merchant = factory.make_merchant()
    market = merchant.market
    assert market is not None
    owner = make_user(session, "merchant", merchant=merchant, email="owner@shop.cn")
    robots = {
        name: NotificationChannel(
            kind="wecom", target="https://qyapi.weixin.qq.com/x", active=True, created_at=NOW, **where
        )
        for name, where in (("station", {"market_id": market.id}), ("office", {"unit_id": market.unit_id}))
    }
    session.add_all(robots.values())
    session.commit()
    cases = [factory.make_complaint(merchant).complaint for _ in range(2)]
    session.rollback()
    before = session.scalar(select(func.count()).select_from(Delivery)) or 0
    sweep_at(app, NOW + 50 * MIN)
    session.rollback()
    rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()[before:]
    # One digest per recipient for the batch, not one message per card: the shop's staff and
    # the market's robot hear of each case's reminder, urge and escalation; the office's robot
    # of the escalations. A digest spans cases, so it belongs to none.
    assert len(rows) == 3 and {row.complaint_id for row in rows} == {None}
    to_owner = next(row for row in rows if row.user_id == owner.id)
    to_station, to_office = (
        next(r for r in rows if r.channel_id == robots[n].id) for n in ("station", "office")
    )
    numbers = sorted(c.case_number for c in cases)
    every_card = sorted((n, what) for n in numbers for what in ("催办卡", "提醒卡", "案件已升级"))
    assert sorted(digest_lines(to_owner.body)) == sorted(digest_lines(to_station.body)) == every_card
    assert sorted(digest_lines(to_office.body)) == [(n, "案件已升级") for n in numbers]
    assert to_station.subject == "[快诉] 时限汇总：6 条提醒、催办与升级"
    assert to_office.subject == "[快诉] 时限汇总：2 条提醒、催办与升级"
    assert "商户需" not in to_station.body and "13800138000" not in to_station.body
