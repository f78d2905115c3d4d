"""Order 121 identity on escalation, the accept clock starting when it arrives, the 12315 package."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.escalation import escalate
from portal.filing import PACKAGE_KEYS, IdentityNotRequestedError, filing_package, provide_identity
from portal.models import Complaint, RegulatorUnit
from portal.regulator import accept
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.portal.sweeping import events, fresh, running

SALT = "test-secret-key-0123456789abcdef"
ZH = {"Accept-Language": "zh-CN"}


def to_regulator(session: Session, factory: Factory) -> tuple[Complaint, str]:
    """Return a complaint (name given, no address) escalated by hand to the regulator at NOW."""
    merchant = factory.make_merchant(unit=factory.make_unit(), name="太行山居酒店")
    receipt = factory.make_complaint(merchant, name="王先生", amount_fen=12850, wish="refund")
    escalate(
        session,
        receipt.complaint,
        reason="酒店拒绝退订",
        actor=make_user(session, "admin"),
        now=NOW,
        salt=SALT,
    )
    session.commit()
    return receipt.complaint, receipt.token


def test_the_tracking_page_asks_and_the_clock_starts_when_identity_arrives(
    app: Flask, session: Session, factory: Factory, client: FlaskClient
) -> None:
    complaint, token = to_regulator(session, factory)
    assert [e.data for e in events(session, complaint, "identity_requested")] == [{"missing": ["address"]}]
    assert "accept" not in running(session, complaint)
    page = client.get(f"/t/{token}", headers=ZH).get_data(as_text=True)
    assert "请向市场监管所提供您的姓名和地址" in page and f"/t/{token}/identity" in page
    assert "需要您的姓名和地址才能受理投诉" in page
    arrived = NOW + timedelta(days=2, hours=3)  # Wed 25 Nov, 17:00 in Shanghai
    app.config["KUAISU_FIXED_NOW"] = arrived
    response = client.post(
        f"/t/{token}/identity", headers=ZH, data={"name": "王建国", "address": "长治市潞州区英雄南路9号"}
    )
    assert response.status_code == 303
    case = fresh(session, complaint)
    assert (case.name, case.address) == ("王建国", "长治市潞州区英雄南路9号")
    clock = running(session, complaint)["accept"]
    # Order 121: 7 working days from the complete complaint, the start day not counted.
    assert clock.started_at == arrived
    assert clock.due_at.isoformat() == "2026-12-04T15:59:59.999999+00:00"
    given = events(session, complaint, "identity_given")[0]
    assert given.public and given.body is None and given.data is None  # no personal data in the chain
    page = client.get(f"/t/{token}", headers=ZH).get_data(as_text=True)
    assert "/identity" not in page and "市场监管所需在 12-04 23:59 前决定是否受理" in page


def test_bad_identity_is_shown_again(session: Session, factory: Factory, client: FlaskClient) -> None:
    _complaint, token = to_regulator(session, factory)
    response = client.post(f"/t/{token}/identity", headers=ZH, data={"name": "", "address": "短"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "请填写姓名。" in page and "地址请填写 5 到 200 个字。" in page


def test_identity_is_asked_only_when_the_regulator_waits(
    session: Session, factory: Factory, client: FlaskClient
) -> None:
    receipt = factory.make_complaint()
    page = client.get(f"/t/{receipt.token}", headers=ZH).get_data(as_text=True)
    assert "/identity" not in page
    response = client.post(f"/t/{receipt.token}/identity", data={"name": "李四", "address": "某某街道一号"})
    assert response.status_code == 303
    assert fresh(session, receipt.complaint).address is None
    with pytest.raises(IdentityNotRequestedError):
        provide_identity(
            session, receipt.complaint, name="李四", address="某某街道一号", phone=None, now=NOW, salt=SALT
        )
    assert client.post("/t/not-a-token/identity", data={}).status_code == 404


def test_the_12315_package_holds_exactly_order_121s_fields(
    app: Flask, session: Session, factory: Factory
) -> None:
    complaint, _token = to_regulator(session, factory)
    provide_identity(
        session,
        fresh(session, complaint),
        name="王建国",
        address="长治市潞州区英雄南路9号",
        phone=None,
        now=NOW + timedelta(hours=1),
        salt=SALT,
    )
    session.commit()
    officer = make_user(session, "regulator", unit=session.get(RegulatorUnit, complaint.unit_id))
    accept(session, fresh(session, complaint), officer, now=NOW + timedelta(hours=2), salt=SALT)
    session.commit()
    with app.test_request_context("/", headers=ZH):
        package = filing_package(session, fresh(session, complaint))
    assert tuple(package) == PACKAGE_KEYS
    assert package["complainant"] == {
        "name": "王建国",
        "phone": "13800138000",
        "address": "长治市潞州区英雄南路9号",
    }
    assert package["merchant"] == {"name": "太行山居酒店", "address": "A区12号"}
    assert package["request"] == "退款；涉及金额 128.50 元"
    assert package["facts"] == "瓷砖有裂纹，商家拒绝退换。"
    assert [e["kind"] for e in package["timeline"]] == [
        "submitted",
        "escalated",
        "identity_requested",
        "identity_given",
        "case_accepted",
    ]
    assert package["timeline"][0]["at"] == "2026-11-23T14:00+08:00"
    checked, broken = verify_chains(session, SALT)
    assert broken is None and checked >= 5
