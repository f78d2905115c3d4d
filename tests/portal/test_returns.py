"""Returns (退单): the 20-hour return window, the 2-hour tell-the-shopper clock, the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.escalation import escalate
from portal.lifecycle import ActionNotAllowedError, InvalidStepError
from portal.models import Complaint, User
from portal.returns import ReturnReasonError, record_return_told, return_case
from portal.stages import record_progress
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.portal.sweeping import events, fresh, kinds, running, sweep_at

SALT = "test-secret-key-0123456789abcdef"
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
REASON = "该纠纷属于装修合同质量争议，不属于本市场经营范围"


def at_station(session: Session, factory: Factory) -> tuple[Complaint, User, str]:
    """Return a complaint the station received by hand at NOW, its station user and token."""
    receipt = factory.make_complaint()
    station = make_user(session, "station", market=receipt.complaint.market)
    escalate(session, receipt.complaint, reason="商户未回应", actor=station, now=NOW, salt=SALT)
    session.commit()
    return receipt.complaint, station, receipt.token


def test_the_return_window_cards_then_it_closes(app: Flask, session: Session, factory: Factory) -> None:
    complaint, _station, _token = at_station(session, factory)
    record_progress(session, fresh(session, complaint), "replied", NOW + MIN)  # respond stops
    session.commit()
    assert running(session, complaint)["return"].due_at == NOW + 20 * HOUR
    assert sweep_at(app, NOW + 10 * HOUR).counts == {"reminder": 1}
    # The feedback clock (24 h) runs beside it: its reminder came at 12 h, its urge at 19.2 h.
    assert sweep_at(app, NOW + 16 * HOUR).counts == {"urge": 1, "reminder": 1}
    report = sweep_at(app, NOW + 20 * HOUR + MIN)
    assert report.counts == {"return_window_closed": 1, "urge": 1}
    assert [e.data["stage"] for e in events(session, complaint, "urge")] == ["return", "feedback"]
    assert "return" not in running(session, complaint)
    assert fresh(session, complaint).rung == "station"  # the window closing moves nothing


def test_a_take_closes_the_return_window(session: Session, factory: Factory) -> None:
    complaint, _station, _token = at_station(session, factory)
    record_progress(session, fresh(session, complaint), "taken", NOW + MIN)
    session.commit()
    assert set(running(session, complaint)) == {"feedback"}


def test_a_return_needs_a_reason_and_a_channel(session: Session, factory: Factory) -> None:
    complaint, station, _token = at_station(session, factory)
    for reason, channel in (("不归我们管", "12345"), (REASON, "nowhere"), ("          ", "12315")):
        with pytest.raises(ReturnReasonError):
            return_case(session, complaint, station, reason=reason, channel=channel, now=NOW, salt=SALT)
    merchant_user = make_user(session, "merchant", merchant=complaint.merchant)
    with pytest.raises(ActionNotAllowedError):
        return_case(session, complaint, merchant_user, reason=REASON, channel="12345", now=NOW, salt=SALT)


def test_return_then_the_two_hour_clock_then_told(
    app: Flask, session: Session, factory: Factory, client: FlaskClient
) -> None:
    complaint, station, token = at_station(session, factory)
    event = return_case(
        session,
        fresh(session, complaint),
        station,
        reason=REASON,
        channel="other_department",
        now=NOW + 3 * HOUR,
        salt=SALT,
    )
    session.commit()
    assert event.public and event.body == REASON
    assert event.data == {
        "by": "station",
        "by_name": "万博装饰市场维权站",
        "channel": "other_department",
        "late": False,
    }
    assert set(running(session, complaint)) == {"tell_return"}
    # The shopper sees the reason and where to turn, never a bare "not responsible".
    page = client.get(f"/t/{token}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert REASON in page and "其他政府部门" in page
    assert "以不属于其受理范围为由退回您的投诉" in page
    assert sweep_at(app, NOW + 4 * HOUR).counts == {"reminder": 1}
    assert sweep_at(app, NOW + 4 * HOUR + 36 * MIN).counts == {"urge": 1}
    assert sweep_at(app, NOW + 5 * HOUR + MIN).counts == {"overdue": 1}
    assert events(session, complaint, "overdue")[0].data["stage"] == "tell_return"
    record_return_told(session, fresh(session, complaint), station, now=NOW + 6 * HOUR, salt=SALT)
    session.commit()
    case = fresh(session, complaint)
    assert (case.status, case.outcome) == ("closed", "not_accepted")
    assert events(session, complaint, "return_told")[0].data == {"late": True}
    assert kinds(session, complaint)[-2:] == ["return_told", "closed"]
    assert running(session, complaint) == {}


def test_a_late_return_is_marked_late(session: Session, factory: Factory) -> None:
    complaint, station, _token = at_station(session, factory)
    event = return_case(
        session, complaint, station, reason=REASON, channel="12345", now=NOW + 21 * HOUR, salt=SALT
    )
    assert event.data["late"] is True


def test_a_regulator_returns_what_reached_it(session: Session, factory: Factory) -> None:
    complaint, station, _token = at_station(session, factory)
    escalate(session, complaint, reason="需要行政调解", actor=station, now=NOW + HOUR, salt=SALT)
    session.commit()
    with pytest.raises(ActionNotAllowedError):
        return_case(
            session,
            fresh(session, complaint),
            station,
            reason=REASON,
            channel="12345",
            now=NOW + 2 * HOUR,
            salt=SALT,
        )
    from portal.models import RegulatorUnit

    officer = make_user(session, "regulator", unit=session.get(RegulatorUnit, complaint.unit_id))
    event = return_case(
        session,
        fresh(session, complaint),
        officer,
        reason=REASON,
        channel="other_regulator",
        now=NOW + 2 * HOUR,
        salt=SALT,
    )
    assert event.data["by"] == "regulator" and event.data["by_name"] == "英雄南路市场监管所"
    with pytest.raises(InvalidStepError):
        return_case(
            session, complaint, officer, reason=REASON, channel="12345", now=NOW + 3 * HOUR, salt=SALT
        )


def test_a_station_returns_a_case_still_at_the_merchant(
    app: Flask, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    station = make_user(session, "station", market=complaint.market)
    event = return_case(session, complaint, station, reason=REASON, channel="12345", now=NOW + MIN, salt=SALT)
    session.commit()
    assert (event.data["by"], event.data["by_name"]) == ("station", "万博装饰市场维权站")
    case = fresh(session, complaint)
    assert case.rung == "station" and running(session, complaint)["tell_return"].rung == "station"
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        from portal.status import case_status

        assert case_status(case, NOW + 2 * MIN).clock_text == (
            "市场维权站已于 14:01 以不属于其受理范围为由退回您的投诉，退回理由和可以求助的渠道见下方。"
        )
