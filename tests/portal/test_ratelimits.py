"""Rate limits: generous per address (a market shares one Wi-Fi), tight per phone and shop."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import create_app
from portal.models import Complaint
from tests.factories import Factory, complaint_form


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


def _stored(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Complaint)) or 0


def _app(app_config: dict[str, Any], **overrides: Any) -> Flask:
    return create_app({**app_config, **overrides})


def test_thirty_shoppers_behind_one_address_all_get_through(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    for n in range(30):
        response = client.post(
            f"/c/{code}", data=complaint_form(phone=f"139{n:08d}"), environ_base={"REMOTE_ADDR": "10.1.2.3"}
        )
        assert response.status_code == 303, n
    assert _stored(session) == 30


def test_sixth_complaint_from_one_phone_about_one_shop_waits(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant()
    code = factory.poster_of(merchant).code
    for _ in range(5):
        assert client.post(f"/c/{code}", data=complaint_form()).status_code == 303
    # The same number typed differently is the same phone.
    response = client.post(f"/c/{code}", data=complaint_form(phone="+86 138-0013-8000"))
    assert response.status_code == 429
    # The hour's window opened with the first complaint: the wait is most of an hour.
    assert 3000 < int(response.headers["Retry-After"]) <= 3600
    page = response.get_data(as_text=True)
    assert "请稍后再发送" in page and "维权站" in page
    # What was typed comes back, ready to send again.
    assert "瓷砖有裂纹，商家拒绝退换。" in page and "+86 138-0013-8000" in page and "李女士" in page
    assert _stored(session) == 5
    # Another phone, or the same phone about another shop, still gets through.
    session.rollback()  # the factory writes next: drop the read snapshot taken above
    assert client.post(f"/c/{code}", data=complaint_form(phone="13912345678")).status_code == 303
    other = factory.poster_of(factory.make_merchant(market=merchant.market, name="鑫隆卫浴")).code
    assert client.post(f"/c/{other}", data=complaint_form()).status_code == 303


def test_refused_forms_do_not_use_up_the_phone_limit(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    for _ in range(8):
        assert client.post(f"/c/{code}", data=complaint_form(description="短")).status_code == 400
    assert client.post(f"/c/{code}", data=complaint_form()).status_code == 303


def test_anonymous_reports_share_their_address_s_phone_limit(
    app_config: dict[str, Any], factory: Factory, session: Session
) -> None:
    app = _app(app_config, RATELIMIT_SUBMIT_PHONE="2 per hour")
    client = app.test_client()
    code = factory.poster_of(factory.make_merchant()).code
    report = {"kind": "report", "phone": "", "name": "", "consent": None}
    here, there = {"REMOTE_ADDR": "10.0.0.7"}, {"REMOTE_ADDR": "10.0.0.8"}
    def send(address: dict[str, str]) -> int:
        return client.post(f"/c/{code}", data=complaint_form(**report), environ_base=address).status_code

    statuses = [send(here) for _ in range(3)]
    elsewhere = send(there)
    app.extensions["kuaisu.engine"].dispose()
    assert statuses == [303, 303, 429] and elsewhere == 303
    assert _stored(session) == 3


def test_per_address_limit_answers_429_with_retry_after(
    app_config: dict[str, Any], factory: Factory, session: Session
) -> None:
    app = _app(app_config, RATELIMIT_PUBLIC_IP="3 per minute")
    client = app.test_client()
    code = factory.poster_of(factory.make_merchant()).code
    answers = [client.post(f"/c/{code}", data=complaint_form(phone=f"139{n:08d}")) for n in range(4)]
    app.extensions["kuaisu.engine"].dispose()
    assert [a.status_code for a in answers] == [303, 303, 303, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert _stored(session) == 3


def test_case_lookup_is_rate_limited(app_config: dict[str, Any], factory: Factory) -> None:
    app = _app(app_config, RATELIMIT_TRACK="3 per minute")
    client = app.test_client()
    answers = [
        client.post("/track", data={"case_number": f"KS20261122-{n:04d}", "last4": "1234"}) for n in range(4)
    ]
    looking = client.get("/track")
    app.extensions["kuaisu.engine"].dispose()
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert looking.status_code == 200  # only guesses are limited, not the page


def test_limits_come_from_configuration(app: Flask) -> None:
    assert app.config["RATELIMIT_PUBLIC_IP"] == "600 per minute"
    assert app.config["RATELIMIT_SUBMIT_PHONE"] == "5 per hour"
    # Retry-After comes with each 429 (tests above); no X-RateLimit-* on every answer.
    assert app.config["RATELIMIT_HEADERS_ENABLED"] is False
