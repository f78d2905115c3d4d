"""The receipt and tracking page, the lookup by case number, and what the shopper adds."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.audit import append_event
from portal.models import Attachment, Complaint, Event
from tests.conftest import NOW
from tests.factories import Factory, complaint_form, image_bytes
from tests.portal.sweeping import sweep_at

MIN = timedelta(minutes=1)


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


def _submit(client: FlaskClient, factory: Factory, **fields: Any) -> tuple[str, Complaint]:
    code = factory.poster_of(factory.make_merchant(name="张记瓷砖")).code
    response = client.post(f"/c/{code}", data=complaint_form(**fields))
    assert response.status_code == 303
    factory.session.rollback()
    complaint = factory.session.scalars(select(Complaint).order_by(Complaint.id.desc())).first()
    assert complaint is not None
    return response.headers["Location"].split("?")[0], complaint


def test_lookup_by_number_and_last_four_digits(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    url, complaint = _submit(client, factory)
    number = complaint.case_number
    for typed_number, typed_digits in (
        (number, "8000"),
        (number.lower(), "８０００"),
        (f" {number[:10]} {int(number[11:])} ", " 8000 "),
    ):
        response = client.post("/track", data={"case_number": typed_number, "last4": typed_digits})
        assert response.status_code == 303, typed_number
        assert response.headers["Location"] == url
    assert client.get(url).status_code == 200


def test_wrong_number_and_wrong_digits_look_the_same(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    _url, complaint = _submit(client, factory)
    wrong_digits = client.post("/track", data={"case_number": complaint.case_number, "last4": "1234"})
    wrong_number = client.post("/track", data={"case_number": "KS20260101-0099", "last4": "8000"})
    assert wrong_digits.status_code == wrong_number.status_code == 404
    assert wrong_digits.data == wrong_number.data
    assert complaint.case_number.encode() not in wrong_digits.data
    assert "没有找到与该编号和手机号后 4 位相符的案件" in wrong_digits.get_data(as_text=True)


@pytest.mark.parametrize("digits", ["----", "0000", "    ", "12a4", "12345"])
def test_anonymous_report_is_not_found_by_digits(
    client: FlaskClient, factory: Factory, session: Session, digits: str
) -> None:
    _url, complaint = _submit(client, factory, kind="report", phone="", name="", consent=None)
    response = client.post("/track", data={"case_number": complaint.case_number, "last4": digits})
    assert response.status_code in (400, 404)
    assert "Location" not in response.headers


def test_tracking_page_shows_colour_timeline_and_clock(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    url, complaint = _submit(client, factory)
    append_event(
        factory.session,
        complaint,
        "note",
        now=NOW,
        salt="s",
        actor_role="station",
        public=False,
        body="内部备注：商户态度差",
    )
    factory.session.commit()
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert 'class="status black"' in page and "新投诉，等待受理" in page
    assert 'class="clock"' in page and "还剩" in page
    assert "您提交了投诉" in page
    assert "内部备注" not in page
    assert complaint.case_number in page
    assert "13800138000" not in page and "李女士" not in page


@pytest.mark.parametrize(
    ("status", "colour", "label"), [("handling", "red", "处理中"), ("closed", "green", "已办结")]
)
def test_colours_follow_the_status(
    client: FlaskClient, factory: Factory, session: Session, status: str, colour: str, label: str
) -> None:
    url, complaint = _submit(client, factory)
    factory.session.execute(
        update(Complaint)
        .where(Complaint.id == complaint.id)
        .values(status=status, closed_at=NOW if status == "closed" else None)
    )
    factory.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert f'class="status {colour}"' in page and label in page


def test_overdue_clock_says_so(client: FlaskClient, factory: Factory, session: Session) -> None:
    url, complaint = _submit(client, factory)
    factory.session.execute(
        update(Complaint)
        .where(Complaint.id == complaint.id)
        .values(stage_due_at=complaint.created_at - timedelta(minutes=5))
    )
    factory.session.commit()
    page = client.get(url + "?lang=en").get_data(as_text=True)
    assert 'class="clock overdue"' in page and "Overdue since" in page


def test_unknown_tokens_are_404(client: FlaskClient, factory: Factory, session: Session) -> None:
    url, _complaint = _submit(client, factory)
    for bad in ("/t/" + "A" * 32, "/t/" + "A" * 200, url[:-1], url + "x"):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert "12315" in response.get_data(as_text=True)


def test_shopper_adds_information_and_photos(client: FlaskClient, factory: Factory, session: Session) -> None:
    url, complaint = _submit(client, factory)
    form = {
        "message": "补充：商家电话 0355-2021234 打不通。",
        "idem": "follow-up-key-1",
        "photos": [(io.BytesIO(image_bytes()), "发票.jpg")],
    }
    response = client.post(f"{url}/info", data=form, content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"].startswith(url)
    again = client.post(
        f"{url}/info",
        data={**form, "photos": [(io.BytesIO(image_bytes()), "a.jpg")]},
        content_type="multipart/form-data",
    )
    assert again.status_code == 303
    session.rollback()
    events = session.scalars(
        select(Event).where(Event.complaint_id == complaint.id).order_by(Event.seq)
    ).all()
    assert [e.kind for e in events] == ["submitted", "shopper_info"]
    assert events[1].public and events[1].actor_role == "shopper" and events[1].data["photos"] == 1
    assert session.scalars(select(Attachment)).one().complaint_id == complaint.id
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert "补充：商家电话 0355-2021234 打不通。" in page
    assert "/photos/" in page


def test_empty_information_is_refused_with_the_page(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    url, _complaint = _submit(client, factory)
    response = client.post(f"{url}/info?lang=en", data={"message": " "})
    assert response.status_code == 400
    assert "Please write something." in response.get_data(as_text=True)
    assert client.post("/t/" + "A" * 32 + "/info", data={"message": "hello there"}).status_code == 404


def test_receipt_for_a_report_gives_the_verification_date(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    url, _complaint = _submit(client, factory, kind="report", phone="", name="", consent=None)
    page = client.get(url + "?new=1&lang=en").get_data(as_text=True)
    assert "Reporters are kept confidential" in page
    assert "checks your report by 20" in page


def _what_happens_next(page: str) -> str:
    """Return the text of the tracking page's "what happens next" part, tags stripped."""
    part = page.split("<h2>接下来</h2>", 1)[1].split("</div>", 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", " ", part))


def test_after_each_climb_what_happens_next_follows_the_rung_that_holds_the_case(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    receipt = factory.make_complaint(on_site=True)
    url = f"/t/{receipt.token}"
    app.config["KUAISU_FIXED_NOW"] = NOW + 10 * MIN
    before = _what_happens_next(client.get(url).get_data(as_text=True))
    assert "商户和市场维权站已看到您的投诉" in before
    assert "商户或市场维权站将在 14:45 前答复您" in before and "15:30 前到店找您" in before

    # The merchant lets 45 minutes pass; the sweep runs a minute late and hands the case on.
    sweep_at(app, NOW + 46 * MIN)
    app.config["KUAISU_FIXED_NOW"] = NOW + 50 * MIN
    station = _what_happens_next(client.get(url).get_data(as_text=True))
    assert "已超时，已于 14:46 转交市场维权站。" in station
    # The station's own clocks from 14:46, soonest first; the merchant's promise is gone.
    reply, on_site = "市场维权站需在 15:31 前回复您。", "市场维权站需在 16:16 前到店处理。"
    assert station.index(reply) < station.index(on_site)
    assert "市场维权站需在 11-24 14:46 前反馈处理结果。" in station
    assert "14:45" not in station and "商户或市场维权站" not in station and "商户和市场维权站" not in station
    assert "退回" not in station  # the return window is the station's own business

    # The station lets its clock run out too; the office's accept clock waits for the
    # complainant's name and address (Order 121), so it promises no time yet.
    sweep_at(app, NOW + 95 * MIN)
    app.config["KUAISU_FIXED_NOW"] = NOW + 100 * MIN
    office = _what_happens_next(client.get(url).get_data(as_text=True))
    assert "已超时，已于 15:35 转交市场监管所。" in office
    assert "市场维权站需在" not in office and "决定是否受理" not in office


def test_after_a_climb_the_office_states_its_working_day_deadline(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant(unit=factory.make_unit(), name="华联超市")  # outside any market
    receipt = factory.make_complaint(merchant, name="李女士")
    receipt.complaint.address = "长治市潞州区英雄南路1号"
    factory.session.commit()
    sweep_at(app, NOW + 46 * MIN)
    app.config["KUAISU_FIXED_NOW"] = NOW + 50 * MIN
    page = client.get(f"/t/{receipt.token}").get_data(as_text=True)
    office = _what_happens_next(page)
    assert "已超时，已于 14:46 转交市场监管所。" in office
    # Order 121: 7 working days, the start day not counted (Mon 23 Nov → Wed 2 Dec).
    assert "市场监管所需在 12-02 23:59 前决定是否受理。" in office
