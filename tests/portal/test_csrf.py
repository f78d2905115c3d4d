"""CSRF is on: an expired token keeps what was typed; a cross-site post stores nothing."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Complaint
from tests.factories import Factory, complaint_form


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Turn CSRF protection on, as in production."""
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


@pytest.fixture
def code(factory: Factory) -> str:
    """Return the poster code of a shop."""
    return factory.poster_of(factory.make_merchant()).code


def _stored(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Complaint)) or 0


def _token(page: str) -> str:
    found = (
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        or re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', page)
        or re.search(r'name="csrf_token" value="([^"]+)"', page)
    )
    assert found, "no CSRF token in the page"
    return found.group(1)


def _hidden_fields(page: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    for name in ("description",):
        found = re.search(rf'<textarea id="{name}" name="{name}"[^>]*>\s*(.*?)</textarea>', page, re.S)
        if found:
            fields[name] = html.unescape(found.group(1))
    for name in ("amount", "phone", "name"):
        found = re.search(rf'<input id="{name}" name="{name}"[^>]*value="([^"]*)"', page)
        if found:
            fields[name] = html.unescape(found.group(1))
    return {key: html.unescape(value) for key, value in fields.items()}


TYPED = {
    "description": "地板起翘，商家说不管。",
    "amount": "300",
    "phone": "13800138000",
    "name": "李女士",
    "wish": "repair",
    "on_site": "y",
    "category": "price",
}


def test_form_carries_a_token_and_a_valid_post_works(
    client: FlaskClient, code: str, session: Session
) -> None:
    token = _token(client.get(f"/c/{code}").get_data(as_text=True))
    response = client.post(f"/c/{code}", data={**complaint_form(**TYPED), "csrf_token": token})
    assert response.status_code == 303
    assert _stored(session) == 1


def test_missing_token_keeps_what_was_typed_and_sending_again_works(
    client: FlaskClient, code: str, session: Session
) -> None:
    client.get(f"/c/{code}")  # the shopper opened the form: a session cookie exists
    response = client.post(f"/c/{code}", data=complaint_form(**TYPED))
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "页面停留时间较长" in page
    kept = _hidden_fields(page)
    assert kept["description"] == TYPED["description"]
    assert kept["amount"] == "300" and kept["phone"] == "13800138000" and kept["name"] == "李女士"
    assert kept["wish"] == "repair" and kept["on_site"] == "y" and kept["category"] == "price"
    assert kept["kind"] == "complaint" and kept["consent"] == "y" and kept["idem"]
    assert _stored(session) == 0
    again = client.post(f"/c/{code}", data=kept)
    assert again.status_code == 303
    assert _stored(session) == 1
    stored = session.scalars(select(Complaint)).one()
    assert stored.wish == "repair" and stored.on_site and stored.category == "price"


def test_expired_token_shows_the_friendly_page(
    client: FlaskClient, code: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from itsdangerous.timed import TimestampSigner

    five_hours_ago = int(time.time()) - 5 * 3600
    with monkeypatch.context() as patched:
        patched.setattr(TimestampSigner, "get_timestamp", lambda _self: five_hours_ago)
        stale = _token(client.get(f"/c/{code}?lang=en").get_data(as_text=True))
    response = client.post(f"/c/{code}?lang=en", data={**complaint_form(**TYPED), "csrf_token": stale})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "The page was open for a long time" in page
    assert "Everything you typed is still here" in page
    assert TYPED["description"] in page
    assert _stored(session) == 0
    again = client.post(f"/c/{code}", data=_hidden_fields(page))
    assert again.status_code == 303
    assert _stored(session) == 1


def test_cross_site_post_is_refused(app: Any, code: str, session: Session) -> None:
    # Another site's page posts into the form: no session cookie, a made-up token.
    stranger = app.test_client()
    response = stranger.post(
        f"/c/{code}",
        data={**complaint_form(**TYPED), "csrf_token": "forged"},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
    )
    assert response.status_code == 400
    assert _stored(session) == 0


def test_track_lookup_needs_a_token(client: FlaskClient, session: Session) -> None:
    response = client.post("/track", data={"case_number": "KS20261122-0001", "last4": "8000"})
    assert response.status_code == 400


def test_follow_up_needs_a_token(client: FlaskClient, code: str, session: Session) -> None:
    page = client.get(f"/c/{code}").get_data(as_text=True)
    receipt = client.post(f"/c/{code}", data={**complaint_form(), "csrf_token": _token(page)})
    url = receipt.headers["Location"].split("?")[0]
    response = client.post(f"{url}/info", data={"message": "补充：商家电话打不通。"})
    assert response.status_code == 400
    assert "补充：商家电话打不通" not in client.get(url).get_data(as_text=True)
