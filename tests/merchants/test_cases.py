"""A complaint's back-office page and its actions, through HTTP, and the shopper's answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import Attachment, Complaint, Event, Market, User
from portal.photo_intake import photo_store
from tests.conftest import NOW
from tests.factories import Factory, image_bytes, make_user
from tests.merchants.conftest import login_as


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Use a session outside any app context, so every request gets its own database session."""
    return detached_session


@dataclass
class Desk:
    """A case, its tracking token, and staff inside and outside its scope."""

    complaint: Complaint
    token: str
    merchant_user: User
    station: User
    regulator: User
    stranger: User


@pytest.fixture
def desk(session: Session, factory: Factory) -> Desk:
    merchant = factory.make_merchant()
    # The views act at the real clock; the case must already exist then.
    receipt = factory.make_complaint(
        merchant, name="李女士", amount_fen=12850, now=utcnow() - timedelta(minutes=10)
    )
    other = factory.make_merchant(factory.make_market(name="紫金街农贸市场"), name="老王水果店")
    return Desk(
        receipt.complaint,
        receipt.token,
        make_user(session, "merchant", merchant=merchant, name="张老板"),
        make_user(session, "station", market=merchant.market, name="王站长"),
        make_user(session, "regulator", unit=merchant.unit, name="李科员"),
        make_user(session, "station", market=other.market, name="外站"),
    )


def path(desk: Desk, action: str = "") -> str:
    suffix = f"/{action}" if action else ""
    return f"/office/complaints/{desk.complaint.case_number}{suffix}"


def version(session: Session, desk: Desk) -> int:
    session.rollback()  # end the read snapshot: requests have committed since
    session.expire_all()
    stored = session.get(Complaint, desk.complaint.id)
    assert stored is not None
    return stored.version


def kinds(session: Session, desk: Desk) -> list[str]:
    session.rollback()
    return list(
        session.scalars(select(Event.kind).where(Event.complaint_id == desk.complaint.id).order_by(Event.seq))
    )


def test_merchant_sees_the_case_with_the_phone_masked(client: FlaskClient, desk: Desk) -> None:
    login_as(client, desk.merchant_user)
    page = client.get(path(desk)).text
    assert "138****8000" in page
    assert "13800138000" not in page and "0013800" not in page
    assert "瓷砖有裂纹" in page and "128.50" in page
    # The form promised the shopper: name and number masked for the shop.
    assert "李**" in page and "李女士" not in page
    assert "reveal-phone" not in page
    assert 'action="/office/complaints/' in page and "/hide" not in page


def test_station_sees_masked_phone_with_a_reveal_button(client: FlaskClient, desk: Desk) -> None:
    login_as(client, desk.station)
    page = client.get(path(desk)).text
    assert "138****8000" in page and "13800138000" not in page
    assert "李女士" in page  # the station handles the case: the name in full
    assert "reveal-phone" in page
    assert "/hide" in page


def test_out_of_scope_is_404_for_page_photo_and_actions(client: FlaskClient, desk: Desk) -> None:
    login_as(client, desk.stranger)
    assert client.get(path(desk)).status_code == 404
    assert client.get(path(desk, "photos/1")).status_code == 404
    for action in ("take", "reply", "note", "arrive", "propose", "outcome", "close", "hide", "callback"):
        response = client.post(path(desk, action), data={"version": "1", "text": "x"})
        assert response.status_code == 404, action


def test_photo_is_served_only_through_the_checked_route(
    app: Flask, client: FlaskClient, session: Session, desk: Desk
) -> None:
    with app.app_context():
        photo_store().put("k" * 32, image_bytes())
    photo = Attachment(complaint_id=desk.complaint.id, storage_key="k" * 32, status="ready", created_at=NOW)
    session.add(photo)
    session.commit()
    login_as(client, desk.merchant_user)
    assert f"photos/{photo.id}" in client.get(path(desk)).text
    served = client.get(path(desk, f"photos/{photo.id}"))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert client.get(path(desk, f"photos/{photo.id + 1}")).status_code == 404
    login_as(client, desk.stranger)
    assert client.get(path(desk, f"photos/{photo.id}")).status_code == 404


ACTIONS: list[tuple[str, dict[str, Any], str, bool]] = [
    ("take", {}, "taken", True),
    ("reply", {"text": "您好，我们十分钟内联系您。"}, "reply", True),
    ("note", {"text": "商户说明天处理"}, "note", False),
    ("arrive", {"at": ""}, "arrived", True),
    ("propose", {"offer": "退货退款", "amount": "128.50"}, "proposed", True),
    ("outcome", {"outcome": "mediated", "recovered": "100", "explanation": ""}, "outcome", True),
    ("hide", {"reason": "重复投诉"}, "hidden", False),
]


@pytest.mark.parametrize(("action", "data", "kind", "public"), ACTIONS)
def test_each_action_adds_one_event(
    client: FlaskClient,
    session: Session,
    desk: Desk,
    action: str,
    data: dict[str, Any],
    kind: str,
    public: bool,
) -> None:
    login_as(client, desk.station)
    before = kinds(session, desk)
    response = client.post(path(desk, action), data={"version": "1", **data})
    assert response.status_code == 303, response.text
    after = kinds(session, desk)
    assert after == [*before, kind]
    stored = session.scalars(
        select(Event).where(Event.complaint_id == desk.complaint.id).order_by(Event.seq.desc())
    ).first()
    assert stored is not None
    assert (stored.public, stored.actor_id, stored.actor_role) == (public, desk.station.id, "station")
    assert version(session, desk) > 1


def test_take_reply_outcome_close_then_callback(client: FlaskClient, session: Session, desk: Desk) -> None:
    login_as(client, desk.station)
    for action, data in [
        ("take", {}),
        ("reply", {"text": "已联系商户"}),
        ("outcome", {"outcome": "mediated", "recovered": "128.50"}),
        ("close", {}),
        ("callback", {"reached": "yes", "satisfied": "yes"}),
    ]:
        response = client.post(path(desk, action), data={"version": version(session, desk), **data})
        assert response.status_code == 303, (action, response.text)
    session.rollback()
    session.expire_all()
    stored = session.get(Complaint, desk.complaint.id)
    assert stored is not None
    assert (stored.status, stored.outcome, stored.recovered_fen, stored.assignee_id) == (
        "closed",
        "mediated",
        12850,
        desk.station.id,
    )
    page = client.get(path(desk)).text
    assert "王站长" in page and "已联系商户" in page


def test_closing_without_an_outcome_is_refused(client: FlaskClient, desk: Desk) -> None:
    login_as(client, desk.station)
    response = client.post(path(desk, "close"), data={"version": "1"})
    assert response.status_code == 400


def test_a_stale_form_gets_409_and_the_current_state(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login_as(client, desk.merchant_user)
    assert client.post(path(desk, "take"), data={"version": "1"}).status_code == 303
    login_as(client, desk.station)
    response = client.post(
        path(desk, "reply"), data={"version": "1", "text": "我来处理"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 409
    assert "Someone else changed this case" in response.text
    assert "张老板" in response.text  # the current state: the merchant took it
    assert "我来处理" in response.text  # what was typed is kept
    # Every form on the page now carries the current version, not the one that was posted.
    versions = set(re.findall(r'name="version" type="hidden" value="(\d+)"', response.text))
    assert versions == {str(version(session, desk))}
    assert kinds(session, desk).count("reply") == 0


def test_roles_are_enforced_on_actions(client: FlaskClient, session: Session, desk: Desk) -> None:
    login_as(client, desk.merchant_user)
    assert client.post(path(desk, "hide"), data={"version": "1", "reason": "x"}).status_code in (403, 404)
    assert client.post(path(desk, "arrive"), data={"version": "1"}).status_code in (403, 404)
    refused = client.post(path(desk, "outcome"), data={"version": "1", "outcome": "mediated"})
    assert refused.status_code == 403
    assert kinds(session, desk) == ["submitted"]


def test_arrival_time_is_today_not_in_the_future(client: FlaskClient, session: Session, desk: Desk) -> None:
    login_as(client, desk.station)
    assert client.post(path(desk, "arrive"), data={"version": "1", "at": "25:00"}).status_code == 400
    assert kinds(session, desk) == ["submitted"]


def test_canned_replies_are_offered_and_kept_by_the_station(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login_as(client, desk.station)
    saved = client.post("/office/replies", data={"replies": "您好，已收到您的投诉。\n站里正在联系商户。"})
    assert saved.status_code == 303
    session.rollback()
    session.expire_all()
    market = session.get(Market, desk.station.market_id)
    assert market is not None and market.canned_replies == ["您好，已收到您的投诉。", "站里正在联系商户。"]
    login_as(client, desk.merchant_user)
    assert "站里正在联系商户。" in client.get(path(desk)).text
    assert client.get("/office/replies").status_code in (403, 404)
    response = client.post(path(desk, "reply"), data={"version": "1", "canned": "站里正在联系商户。"})
    assert response.status_code == 303
    session.rollback()
    body = session.scalars(select(Event.body).where(Event.kind == "reply")).one()
    assert body == "站里正在联系商户。"


def test_an_empty_reply_is_refused(client: FlaskClient, desk: Desk) -> None:
    login_as(client, desk.station)
    assert client.post(path(desk, "reply"), data={"version": "1", "text": " "}).status_code == 400


def test_shopper_sees_the_steps_and_answers(client: FlaskClient, session: Session, desk: Desk) -> None:
    login_as(client, desk.station)
    for action, data in [
        ("reply", {"text": "您好，站里已受理"}),
        ("arrive", {}),
        ("propose", {"offer": "退货退款", "amount": "128.50"}),
    ]:
        assert (
            client.post(path(desk, action), data={"version": version(session, desk), **data}).status_code
            == 303
        )
    shopper = client.application.test_client()
    page = shopper.get(f"/t/{desk.token}").text
    assert "您好，站里已受理" in page and "退货退款" in page and "128.50" in page
    seq = re.search(r'name="proposal" value="(\d+)"', page)
    assert seq is not None
    rejected = shopper.post(f"/t/{desk.token}/reject", data={"proposal": seq[1], "reason": "要换新"})
    assert rejected.status_code == 303
    assert "要换新" in shopper.get(f"/t/{desk.token}").text
    assert 'name="proposal"' not in shopper.get(f"/t/{desk.token}").text
    again = shopper.post(f"/t/{desk.token}/accept", data={"proposal": seq[1]})
    assert again.status_code == 303 and again.headers["Location"].endswith("#actions")
    assert kinds(session, desk).count("accepted") == 0


def test_shopper_rates_a_closed_case_once(client: FlaskClient, session: Session, desk: Desk) -> None:
    login_as(client, desk.station)
    for action, data in [("outcome", {"outcome": "mediated", "recovered": "100"}), ("close", {})]:
        assert (
            client.post(path(desk, action), data={"version": version(session, desk), **data}).status_code
            == 303
        )
    shopper = client.application.test_client()
    page = shopper.get(f"/t/{desk.token}", headers={"Accept-Language": "en"}).text
    assert "100.00 yuan recovered for you" in page
    assert 'name="score"' in page
    assert shopper.post(f"/t/{desk.token}/rate", data={"score": "4", "comment": "满意"}).status_code == 303
    page = shopper.get(f"/t/{desk.token}", headers={"Accept-Language": "en"}).text
    assert 'name="score"' not in page and "4 of 5" in page
    second = shopper.post(
        f"/t/{desk.token}/rate", data={"score": "1"}, follow_redirects=True, headers={"Accept-Language": "en"}
    )
    assert "already rated" in second.text
    session.rollback()
    session.expire_all()
    stored = session.get(Complaint, desk.complaint.id)
    assert stored is not None and stored.satisfaction == 4


def test_internal_notes_never_reach_the_tracking_page(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login_as(client, desk.station)
    client.post(path(desk, "note"), data={"version": "1", "text": "商户态度差"})
    client.post(path(desk, "hide"), data={"version": version(session, desk), "reason": "疑似职业索赔"})
    page = client.application.test_client().get(f"/t/{desk.token}").text
    assert "商户态度差" not in page and "疑似职业索赔" not in page


def test_shopper_forms_need_csrf(app: Flask, client: FlaskClient, desk: Desk) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/t/{desk.token}/rate", data={"score": "5"}).status_code == 400
    assert client.post(f"/t/{'x' * 40}/accept", data={"proposal": "1"}).status_code in (400, 404)


def test_every_element_id_on_the_case_page_is_unique(client: FlaskClient, desk: Desk) -> None:
    """Each action form has its own ids: the internal note's label never focuses the public reply."""
    login_as(client, desk.station)
    page = client.get(path(desk)).text
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert 'for="note-text"' in page and 'id="note-text"' in page and 'name="text"' in page
