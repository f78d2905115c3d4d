"""Phone numbers never appear in a URL the app makes, nor in any log line."""

from __future__ import annotations

import http.client
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.factories import Factory, complaint_form

PHONE = "13800138000"
TYPED = "+86 138-0013-8000"


@pytest.fixture
def server(app: Flask) -> Iterator[int]:
    """Serve the app over real HTTP so werkzeug writes its access log as in development."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=WSGIRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join(timeout=5)


def _request(
    port: int, method: str, path: str, form: dict[str, str] | None = None, cookie: str = ""
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    conn.close()
    return result


def _urls(page: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', page)


def test_phone_stays_out_of_urls_and_logs(
    server: int, factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = factory.poster_of(factory.make_merchant()).code
    seen_urls: list[str] = []

    status, headers, page = _request(server, "GET", f"/c/{code}")
    seen_urls += _urls(page)
    # A refused form (typo in the description) and an accepted one, then the whole follow-up.
    status, headers, page = _request(
        server, "POST", f"/c/{code}", complaint_form(phone=TYPED, description="短")
    )
    assert status == 400
    seen_urls += _urls(page)
    status, headers, page = _request(server, "POST", f"/c/{code}", complaint_form(phone=TYPED))
    assert status == 303
    receipt = headers["location"]
    seen_urls.append(receipt)
    status, headers, page = _request(server, "GET", receipt)
    assert status == 200
    seen_urls += _urls(page)
    number = re.search(r"KS\d{8}-\d{4}", page).group(0)  # type: ignore[union-attr]
    status, headers, page = _request(server, "POST", "/track", {"case_number": number, "last4": "8000"})
    assert status == 303
    seen_urls.append(headers["location"])
    status, headers, page = _request(
        server, "POST", receipt.split("?")[0] + "/info", {"message": f"我的电话是 {PHONE}，请联系我。"}
    )
    assert status == 303
    seen_urls.append(headers["location"])
    # The phone limit refusing the sixth complaint is logged without the number too.
    for _ in range(6):
        _request(server, "POST", f"/c/{code}", complaint_form(phone=TYPED))

    digits = re.compile(r"\D")
    for url in seen_urls:
        assert PHONE not in digits.sub("", urllib.parse.unquote(url)), url
    assert caplog.records, "the access log should have been captured"
    assert any(f"/c/{code}" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        message = record.getMessage()
        assert PHONE not in digits.sub("", message), message
        assert TYPED not in message and urllib.parse.quote_plus(TYPED) not in message


def test_rate_limit_keys_hold_no_phone(app: Flask) -> None:
    from portal.phones import normalise_mobile
    from portal.public_support import phone_merchant_key

    with app.test_request_context("/c/abcdefgh", method="POST", data={"phone": TYPED}):
        key = phone_merchant_key("abcdefgh", normalise_mobile(TYPED))
    assert PHONE not in key and "8000" not in key
    assert key.startswith("submit:ABCDEFGH:")


def test_engine_hides_parameters_from_sql_logs(
    app: Flask, caplog: pytest.LogCaptureFixture, factory: Factory
) -> None:
    # Even with SQL echo switched on while debugging, bound values (phones) are not printed.
    from portal.db import make_engine

    engine = make_engine(app.config["DATABASE_URL"])
    engine.echo = True
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text("SELECT :phone"), {"phone": PHONE})
    engine.dispose()
    assert PHONE not in caplog.text


def test_nothing_personal_in_the_audit_data(server: int, factory: Factory, session: Any) -> None:
    from sqlalchemy import select

    from portal.models import Event

    code = factory.poster_of(factory.make_merchant()).code
    assert _request(server, "POST", f"/c/{code}", complaint_form(phone=TYPED, name="李女士"))[0] == 303
    session.rollback()
    for event in session.scalars(select(Event)):
        assert PHONE not in str(event.data) and "李女士" not in str(event.data)
        assert PHONE not in event.hash and PHONE not in event.prev_hash
