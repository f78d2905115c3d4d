"""The ladder page, its steps, the 12315 package and the calendar admin, through HTTP."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.escalation import escalate
from portal.models import CalendarDay, Complaint, Event, RegulatorUnit, StageClock, User
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as

ZH = {"Accept-Language": "zh-CN"}
SALT = "test-secret-key-0123456789abcdef"
AT = NOW + timedelta(minutes=5)  # when every request below happens (KUAISU_FIXED_NOW)
REASON = "本案属于装修工程合同纠纷，不属于本站受理范围"


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Use a session outside any app context, so every request gets its own database session."""
    return detached_session


@pytest.fixture(autouse=True)
def fixed_now(app: Flask) -> None:
    app.config["KUAISU_FIXED_NOW"] = AT


def sign_in(client: FlaskClient, user: User) -> FlaskClient:
    login_as(client, user, now=AT)
    return client


def fresh(session: Session, complaint: Complaint) -> Complaint:
    session.rollback()
    session.expire_all()
    found = session.get(Complaint, complaint.id)
    assert found is not None
    return found


def post(client: FlaskClient, session: Session, complaint: Complaint, step: str, **data: str):  # type: ignore[no-untyped-def]
    case = fresh(session, complaint)
    data.setdefault("version", str(case.version))
    url = f"/office/complaints/{case.case_number}/{step}"
    session.rollback()  # end the read snapshot before the request writes
    return client.post(url, data=data, headers=ZH)


def test_station_escalates_by_hand_and_sees_the_clocks(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    station = make_user(session, "station", market=complaint.market)
    sign_in(client, station)
    page = client.get(f"/office/complaints/{complaint.case_number}/ladder", headers=ZH).get_data(as_text=True)
    assert "回复（45 分钟）" in page and "提醒卡" in page and "手动升级" in page
    missing = post(client, session, complaint, "escalate", reason="")
    assert missing.status_code == 400 and "请填写理由。" in missing.get_data(as_text=True)
    stale = post(client, session, complaint, "escalate", reason="商户电话打不通", version="999")
    assert stale.status_code == 409
    done = post(client, session, complaint, "escalate", reason="商户电话打不通")
    assert done.status_code == 303
    case = fresh(session, complaint)
    assert (case.rung, case.escalation_cause) == ("station", "manual")
    page = client.get(f"/office/complaints/{complaint.case_number}/ladder", headers=ZH).get_data(as_text=True)
    assert "已于 14:05 转交市场维权站" in page


def test_roles_and_tenants(client: FlaskClient, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    merchant_user = make_user(session, "merchant", merchant=complaint.merchant)
    sign_in(client, merchant_user)
    assert post(client, session, complaint, "escalate", reason="x").status_code == 403
    assert post(client, session, complaint, "accept").status_code == 403
    assert client.get(f"/office/complaints/{complaint.case_number}/ladder").status_code == 200
    other = factory.make_market(name="紫金街农贸市场")
    sign_in(client, make_user(session, "station", market=other))
    assert client.get(f"/office/complaints/{complaint.case_number}/ladder").status_code == 404
    assert post(client, session, complaint, "escalate", reason="越权").status_code == 404
    assert post(client, session, complaint, "return", reason=REASON, channel="12345").status_code == 404
    assert client.get(f"/office/complaints/{complaint.case_number}/filing").status_code == 404


def test_station_returns_with_a_reason_the_shopper_reads(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    receipt = factory.make_complaint()
    complaint = receipt.complaint
    sign_in(client, make_user(session, "station", market=complaint.market))
    bare = post(client, session, complaint, "return", reason="不归我们管", channel="12345")
    assert bare.status_code == 400
    assert post(client, session, complaint, "return", reason=REASON, channel="12345").status_code == 303
    assert fresh(session, complaint).returned_at == AT
    shopper = client.application.test_client()
    page = shopper.get(f"/t/{receipt.token}", headers=ZH).get_data(as_text=True)
    assert REASON in page and "12345 政务服务便民热线" in page
    assert post(client, session, complaint, "return-told").status_code == 303
    case = fresh(session, complaint)
    assert (case.status, case.outcome) == ("closed", "not_accepted")


def _at_regulator(session: Session, factory: Factory) -> tuple[Complaint, User]:
    unit = factory.make_unit()
    merchant = factory.make_merchant(unit=unit, name="太行山居酒店")
    complaint = factory.make_complaint(merchant, name="王建国").complaint
    complaint.address = "长治市潞州区英雄南路9号"
    escalate(session, complaint, reason="商户拒不处理", actor=make_user(session, "admin"), now=NOW, salt=SALT)
    session.commit()
    return complaint, make_user(session, "regulator", unit=session.get(RegulatorUnit, unit.id))


def test_regulator_accepts_pauses_resumes_ends_and_notifies(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    complaint, officer = _at_regulator(session, factory)
    sign_in(client, officer)
    assert post(client, session, complaint, "pause", cause="testing").status_code == 409  # no mediation yet
    assert post(client, session, complaint, "accept").status_code == 303
    assert post(client, session, complaint, "pause", cause="appraisal").status_code == 303
    page = client.get(f"/office/complaints/{complaint.case_number}/ladder", headers=ZH).get_data(as_text=True)
    assert "恢复调解" in page
    assert post(client, session, complaint, "resume").status_code == 303
    assert post(client, session, complaint, "end-mediation").status_code == 303
    assert post(client, session, complaint, "termination-notified").status_code == 303
    case = fresh(session, complaint)
    assert (case.status, case.outcome) == ("closed", "failed")
    kinds = list(
        session.scalars(select(Event.kind).where(Event.complaint_id == complaint.id).order_by(Event.seq))
    )
    assert kinds[-6:] == [
        "case_accepted",
        "mediation_paused",
        "mediation_resumed",
        "mediation_ended",
        "termination_notified",
        "closed",
    ]


def test_the_12315_package_is_recorded_when_opened(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    complaint, officer = _at_regulator(session, factory)
    sign_in(client, officer)
    intro = client.get(f"/office/complaints/{complaint.case_number}/filing", headers=ZH)
    assert intro.status_code == 200 and "13800138000" not in intro.get_data(as_text=True)
    page = client.post(
        f"/office/complaints/{complaint.case_number}/filing", data={"format": "html"}, headers=ZH
    )
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    text = page.get_data(as_text=True)
    assert "13800138000" in text and "王建国" in text and "长治市潞州区英雄南路9号" in text
    answer = client.post(f"/office/complaints/{complaint.case_number}/filing", data={"format": "json"})
    assert answer.mimetype == "application/json"
    assert "attachment" in answer.headers["Content-Disposition"]
    package = json.loads(answer.get_data(as_text=True))
    assert list(package) == ["complainant", "merchant", "request", "facts", "timeline"]
    session.rollback()
    views = session.scalars(
        select(Event).where(Event.complaint_id == complaint.id, Event.kind == "filing_package")
    ).all()
    assert [(e.data, e.actor_id, e.public) for e in views] == [
        ({"format": "html"}, officer.id, False),
        ({"format": "json"}, officer.id, False),
    ]
    sign_in(client, make_user(session, "merchant", merchant=complaint.merchant))
    assert client.get(f"/office/complaints/{complaint.case_number}/filing").status_code == 403


def test_the_package_waits_for_the_regulator(client: FlaskClient, session: Session, factory: Factory) -> None:
    complaint = factory.make_complaint().complaint
    sign_in(client, make_user(session, "station", market=complaint.market))
    assert client.get(f"/office/complaints/{complaint.case_number}/filing").status_code == 404


def test_admin_loads_next_years_calendar_and_the_warning_goes(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    report = factory.make_complaint(kind="report", phone=None).complaint
    officer = make_user(session, "regulator", unit=session.get(RegulatorUnit, report.unit_id))
    sign_in(client, officer)
    assert post(client, session, report, "extend").status_code == 303  # 30 working days: into 2027
    assert client.get("/office/calendar").status_code == 403
    sign_in(client, make_user(session, "admin"))
    page = client.get("/office/calendar", headers=ZH).get_data(as_text=True)
    assert 'id="calendar-warning"' in page and "2027" in page and report.case_number in page
    bad = client.post("/office/calendar", data={"text": "2027-01-01,holiday\n2027-13-01,holiday"}, headers=ZH)
    assert bad.status_code == 400
    assert re.search(r"line 2: .*2027-13-01", bad.get_data(as_text=True))
    notice = {
        "year": 2027,
        "holidays": ["2027-01-01..2027-01-03", "2027-02-06..2027-02-13"],
        "workdays": ["2027-02-14"],
    }
    loaded = client.post("/office/calendar", data={"text": json.dumps(notice)}, headers=ZH)
    assert loaded.status_code == 303
    session.rollback()
    assert session.get(CalendarDay, NOW.date().replace(year=2027, month=2, day=14)).is_working  # type: ignore[union-attr]
    verify = session.scalars(
        select(StageClock).where(StageClock.complaint_id == report.id, StageClock.stage == "verify")
    ).one()
    # New Year's Day 2027 is now a holiday: the deadline moves from 4 to 5 January.
    assert not verify.fallback_used and verify.due_at.isoformat() == "2027-01-05T15:59:59.999999+00:00"
    page = client.get("/office/calendar", headers=ZH).get_data(as_text=True)
    assert 'id="calendar-warning"' not in page and "<td>2027</td>" in page


def test_csrf_is_required(app: Flask, client: FlaskClient, session: Session, factory: Factory) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    complaint = factory.make_complaint().complaint
    sign_in(client, make_user(session, "station", market=complaint.market))
    response = post(client, session, complaint, "escalate", reason="没有令牌")
    assert response.status_code == 400
    assert fresh(session, complaint).rung == "merchant"


def test_the_case_timeline_words_the_cards_and_the_climb(
    app: Flask, client: FlaskClient, session: Session, factory: Factory
) -> None:
    from tests.portal.sweeping import sweep_at

    complaint = factory.make_complaint().complaint
    sweep_at(app, NOW + timedelta(minutes=50))
    sign_in(client, make_user(session, "station", market=complaint.market))
    page = client.get(f"/office/complaints/{complaint.case_number}", headers=ZH).get_data(as_text=True)
    assert "提醒卡: 回复（45 分钟）, 商户 (补发)" in page
    assert "由商户升级至万博装饰市场维权站 (超时: 回复（45 分钟）)" in page


def test_admins_see_the_calendar_warning_on_the_board(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    complaint = factory.make_complaint().complaint
    sign_in(client, make_user(session, "station", market=complaint.market))
    page = client.get("/office/", headers=ZH).get_data(as_text=True)
    assert 'id="calendar-warning"' not in page  # admins only
    sign_in(client, make_user(session, "admin"))
    page = client.get("/office/", headers=ZH).get_data(as_text=True)
    assert 'id="calendar-warning"' in page and "2027 年尚无官方节假日安排" in page
    page = client.get(f"/office/complaints/{complaint.case_number}", headers=ZH).get_data(as_text=True)
    assert f"/office/complaints/{complaint.case_number}/ladder" in page
