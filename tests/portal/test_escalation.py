"""The ladder by hand and by rejection, the regulator's Order 121 clocks, the shopper's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from portal.clock import SHANGHAI
from portal.escalation import LadderTopError, ReasonRequiredError, escalate
from portal.lifecycle import ActionNotAllowedError
from portal.models import Complaint, RegulatorUnit, User
from portal.regulator import (
    IdentityMissingError,
    accept,
    end_mediation,
    extend_verify,
    notify_termination,
    pause_mediation,
    resume_mediation,
)
from portal.status import case_status
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.portal.sweeping import events, fresh, kinds, running, sweep_at

SALT = "test-secret-key-0123456789abcdef"
MIN = timedelta(minutes=1)


def local(*args: int) -> datetime:
    """Return a Shanghai wall-clock moment in UTC."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


def end_of(year: int, month: int, day: int) -> datetime:
    """Return the last microsecond of a Shanghai day, in UTC (an Order 121 deadline)."""
    return local(year, month, day, 23, 59, 59, 999999)


def words(app: Flask, complaint: Complaint, now: datetime) -> str:
    """Return what the tracking page says about the clock, in Chinese."""
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        return case_status(complaint, now).clock_text or ""


def regulator_of(session: Session, complaint: Complaint) -> User:
    """Return an officer of the unit that holds the case."""
    return make_user(session, "regulator", unit=session.get(RegulatorUnit, complaint.unit_id))


def at_regulator(session: Session, factory: Factory, when: datetime, **extra: object) -> Complaint:
    """Return a complete complaint against a standalone shop, escalated by hand at `when`."""
    merchant = factory.make_merchant(unit=factory.make_unit(), name="华联超市")
    complaint = factory.make_complaint(merchant, now=when, name="李女士", **extra).complaint
    complaint.address = "长治市潞州区英雄南路1号"
    admin = make_user(session, "admin")
    escalate(session, complaint, reason="商户拒不接听电话", actor=admin, now=when, salt=SALT)
    session.commit()
    return complaint


def test_station_staff_escalate_by_hand_with_a_reason(app: Flask, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    market = complaint.market
    station = make_user(session, "station", market=market)
    with pytest.raises(ReasonRequiredError):
        escalate(session, complaint, reason="  ", actor=station, now=NOW + MIN, salt=SALT)
    merchant_user = make_user(session, "merchant", merchant=complaint.merchant)
    with pytest.raises(ActionNotAllowedError):
        escalate(session, complaint, reason="x", actor=merchant_user, now=NOW + MIN, salt=SALT)
    event = escalate(
        session, complaint, reason="商户态度恶劣，维权站接手", actor=station, now=NOW + 10 * MIN, salt=SALT
    )
    session.commit()
    assert (event.actor_role, event.actor_id, event.body) == (
        "station",
        station.id,
        "商户态度恶劣，维权站接手",
    )
    assert event.data["cause"] == "manual"
    case = fresh(session, complaint)
    assert (case.rung, case.escalation_cause) == ("station", "manual")
    assert words(app, case, NOW + 11 * MIN).startswith("已于 14:10 转交市场维权站。")
    # From the station, by hand again, to the regulator; then there is no rung above.
    escalate(session, case, reason="涉及质量鉴定，需监管所处理", actor=station, now=NOW + 20 * MIN, salt=SALT)
    session.commit()
    case = fresh(session, complaint)
    assert case.rung == "regulator"
    with pytest.raises(LadderTopError):
        escalate(session, case, reason="再升级", actor=station, now=NOW + 30 * MIN, salt=SALT)


def test_a_rejected_resolution_climbs_one_rung(app: Flask, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    event = escalate(session, complaint, reason="", actor="shopper", now=NOW + 2 * MIN, salt=SALT)
    session.commit()
    assert (event.actor_role, event.data["cause"], event.body) == ("shopper", "rejection", None)
    case = fresh(session, complaint)
    assert words(app, case, NOW + 3 * MIN).startswith("您不接受处理方案，已于 14:02 转交市场维权站。")


def test_the_shopper_reads_the_countdown_then_the_escalation(
    app: Flask, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    assert words(app, complaint, NOW + 22 * MIN) == "商户需在 14:45 前回复您（还剩 23 分钟）"
    assert words(app, complaint, NOW + 46 * MIN) == "已于 14:45 超时：商户未按时回复您。"
    sweep_at(app, NOW + 46 * MIN)
    case = fresh(session, complaint)
    assert words(app, case, NOW + 47 * MIN) == (
        "已超时，已于 14:46 转交市场维权站。市场维权站需在 15:31 前回复您（还剩 44 分钟）"
    )


def test_across_midnight(app: Flask, session: Session, factory: Factory) -> None:
    late_evening = local(2026, 11, 23, 23, 50)
    complaint = factory.make_complaint(now=late_evening).complaint
    assert complaint.stage_due_at == local(2026, 11, 24, 0, 35)
    assert words(app, complaint, late_evening) == "商户需在 00:35 前回复您（还剩 45 分钟）"
    assert sweep_at(app, local(2026, 11, 24, 0, 12, 30)).counts == {"reminder": 1}
    assert sweep_at(app, local(2026, 11, 24, 0, 35)).counts == {"urge": 1}
    assert sweep_at(app, local(2026, 11, 24, 0, 36)).counts == {"escalated": 1}
    case = fresh(session, complaint)
    assert words(app, case, local(2026, 11, 24, 0, 37)).startswith("已超时，已于 00:36 转交市场维权站。")
    assert words(app, case, local(2026, 11, 25, 0, 37)).startswith("已超时，已于 11-24 00:36 转交")


def test_accept_clock_across_spring_festival_2026(app: Flask, session: Session, factory: Factory) -> None:
    # Friday 13 Feb: Sat 14 is a make-up working day, 15–23 the holiday, Sat 28 works again.
    complaint = at_regulator(session, factory, local(2026, 2, 13, 9, 0))
    clock = running(session, complaint)["accept"]
    assert clock.due_at == end_of(2026, 3, 2) and not clock.fallback_used
    assert clock.reminder_at == clock.started_at + (clock.due_at - clock.started_at) / 2
    # The 20-hour return window closes first (the office kept the case as its own).
    assert sweep_at(app, local(2026, 2, 14, 5, 1)).counts == {
        "reminder": 1,
        "urge": 1,
        "return_window_closed": 1,
    }
    assert sweep_at(app, clock.reminder_at).counts == {"reminder": 1}
    assert sweep_at(app, clock.urge_at).counts == {"urge": 1}
    assert sweep_at(app, clock.due_at).counts == {}  # the last microsecond still counts
    report = sweep_at(app, local(2026, 3, 3, 0, 0))
    assert report.counts == {"overdue": 1}  # the top rung: supervision (督办), no climb
    overdue = events(session, complaint, "overdue")[0]
    assert overdue.data["stage"] == "accept" and not overdue.public
    assert words(app, fresh(session, complaint), local(2026, 3, 3, 9, 0)).endswith(
        "已于 03-02 23:59 超时：市场监管所未按时决定是否受理。"
    )


def test_accept_clock_across_national_day_2026(session: Session, factory: Factory) -> None:
    # Mon 28 Sep: Oct 1–7 off, Sat 10 Oct is a make-up working day.
    complaint = at_regulator(session, factory, local(2026, 9, 28, 16, 0))
    assert running(session, complaint)["accept"].due_at == end_of(2026, 10, 13)


def test_mediation_pause_resume_end_and_notice(app: Flask, session: Session, factory: Factory) -> None:
    complaint = at_regulator(session, factory, NOW)
    officer = regulator_of(session, complaint)
    accept(session, complaint, officer, now=NOW + timedelta(days=1), salt=SALT)
    session.commit()
    mediation = running(session, complaint)["mediation"]
    # 24 Nov + 60 days = Sat 23 Jan 2027: 2027 is unknown, so the fallback moves it to Mon 25.
    assert mediation.due_at == end_of(2027, 1, 25) and mediation.fallback_used
    pause_mediation(
        session, fresh(session, complaint), officer, cause="testing", now=NOW + timedelta(days=2), salt=SALT
    )
    session.commit()
    assert running(session, complaint)["mediation"].next_card_at is None
    assert "暂停" in words(app, fresh(session, complaint), NOW + timedelta(days=3))
    assert sweep_at(app, NOW + timedelta(days=40)).counts == {}  # paused: no cards
    resume_mediation(
        session, fresh(session, complaint), officer, now=NOW + timedelta(days=5, hours=1), salt=SALT
    )
    session.commit()
    mediation = running(session, complaint)["mediation"]
    # 3 days and an hour of testing is 4 whole days (Order 121: it does not count).
    assert mediation.paused_seconds == (3 * 24 + 1) * 3600
    assert mediation.due_at == end_of(2027, 1, 27)
    report = sweep_at(app, end_of(2027, 1, 27) + MIN)
    assert report.counts == {"reminder": 1, "urge": 1, "mediation_ended": 1}
    notice = running(session, complaint)["termination_notice"]
    assert notice.started_at == end_of(2027, 1, 27) + MIN
    notify_termination(
        session, fresh(session, complaint), officer, now=end_of(2027, 1, 27) + timedelta(days=2), salt=SALT
    )
    session.commit()
    case = fresh(session, complaint)
    assert (case.status, case.outcome) == ("closed", "failed")
    assert kinds(session, complaint)[-3:] == ["mediation_ended", "termination_notified", "closed"]


def test_a_regulator_ends_mediation_by_hand(session: Session, factory: Factory) -> None:
    complaint = at_regulator(session, factory, NOW)
    officer = regulator_of(session, complaint)
    accept(session, complaint, officer, now=NOW + MIN, salt=SALT)
    end_mediation(session, complaint, actor=officer, now=NOW + timedelta(days=3), salt=SALT)
    session.commit()
    assert set(running(session, complaint)) == {"termination_notice"}


def test_accepting_needs_name_phone_and_address(session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint(factory.make_merchant(unit=factory.make_unit())).complaint
    admin = make_user(session, "admin")
    escalate(session, complaint, reason="转监管所", actor=admin, now=NOW, salt=SALT)
    session.commit()
    assert set(running(session, complaint)) == {"return"}
    officer: User = regulator_of(session, complaint)
    with pytest.raises(IdentityMissingError):
        accept(session, fresh(session, complaint), officer, now=NOW + MIN, salt=SALT)


def test_a_report_climbs_straight_to_the_verify_clock(app: Flask, session: Session, factory: Factory) -> None:
    report_case = factory.make_complaint(kind="report", phone=None).complaint
    assert report_case.rung == "regulator"
    clocks = running(session, report_case)
    assert set(clocks) == {"verify", "return"}
    assert clocks["verify"].due_at == end_of(2026, 12, 14)  # 15 working days, start day not counted
    with pytest.raises(LadderTopError):
        escalate(session, fresh(session, report_case), reason="", actor="shopper", now=NOW, salt=SALT)
    officer = regulator_of(session, report_case)
    extend_verify(session, fresh(session, report_case), officer, now=NOW + timedelta(days=10), salt=SALT)
    session.commit()
    verify = running(session, report_case)["verify"]
    # +15 working days reaches 2027, which no source knows: the fallback counts 1 Jan as working.
    assert verify.due_at == end_of(2027, 1, 4) and verify.extended and verify.fallback_used
    from portal.lifecycle import InvalidStepError

    with pytest.raises(InvalidStepError):
        extend_verify(session, fresh(session, report_case), officer, now=NOW + timedelta(days=11), salt=SALT)
    assert sweep_at(app, end_of(2027, 1, 4) + MIN).counts["overdue"] == 1


def test_calendar_load_command_recounts_guessed_deadlines(
    app: Flask, session: Session, factory: Factory, tmp_path: Path
) -> None:
    from portal.cli import cli

    report_case = factory.make_complaint(kind="report", phone=None).complaint
    extend_verify(session, report_case, regulator_of(session, report_case), now=NOW, salt=SALT)
    session.commit()
    assert running(session, report_case)["verify"].due_at == end_of(2027, 1, 4)
    notice = tmp_path / "2027.csv"
    notice.write_text(
        "date,kind\n2027-01-01..2027-01-03,休\n2027-02-06..2027-02-13,holiday\n2027-02-14,班\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(cli, ["calendar", "load", str(notice)])
    assert result.exit_code == 0, result.output
    assert "loaded 12 days for 2027; 1 running deadlines recomputed" in result.output
    verify = running(session, report_case)["verify"]
    assert verify.due_at == end_of(2027, 1, 5) and not verify.fallback_used
    assert events(session, report_case, "deadline_recounted")[0].data["stage"] == "verify"
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-01-01,holiday\n2027-02-30,holiday\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["calendar", "load", str(bad)])
    assert result.exit_code == 1 and "line 2" in result.output
