"""Load shedding: past the queue budget a request gets 503 + Retry-After, before the database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal import create_app
from portal.config import ConfigError, load_config
from portal.models import Complaint
from portal.shedding import (
    FINISHING_FACTOR,
    budget_for,
    came_through_proxies,
    over_budget,
    request_start,
    sheddable,
)
from tests.factories import Factory, complaint_form

BUDGET_MS = 1000
# Stamps that make the outcome independent of the real clock: long ago, and far ahead.
STALE = {"X-Request-Start": "t=1000000000.000", "X-Forwarded-For": "203.0.113.7"}
FRESH = {"X-Request-Start": "t=4102444800.000", "X-Forwarded-For": "203.0.113.7"}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """One proxy in front (nginx) and a one-second queue budget."""
    return {**app_config, "QUEUE_BUDGET_MS": BUDGET_MS, "TRUSTED_PROXIES": 1}


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """Collect every SQL statement the app sends while the test runs."""
    sent: list[str] = []
    engine = app.extensions["kuaisu.engine"]

    def _note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", _note)
    yield sent
    event.remove(engine, "before_cursor_execute", _note)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("t=1700000000.123", 1700000000.123),  # nginx ${msec}
        (" t=1700000000 ", 1700000000.0),
        ("1700000000123", 1700000000.123),  # milliseconds
        ("t=1700000000123456", 1700000000.123456),  # microseconds
        ("t=", None),
        ("t=soon", None),
        ("t=nan", None),
        ("t=inf", None),
        ("t=-5", None),
        ("t=0", None),
    ],
)
def test_request_start_reads_the_proxys_stamp(header: str, expected: float | None) -> None:
    found = request_start(header)
    assert found == pytest.approx(expected) if expected is not None else found is None


def test_budget_is_exceeded_only_strictly_after_it() -> None:
    stamp = "t=100.000"
    assert over_budget(stamp, now=100.999, budget_ms=BUDGET_MS) is None
    assert over_budget(stamp, now=101.000, budget_ms=BUDGET_MS) is None
    assert over_budget(stamp, now=101.002, budget_ms=BUDGET_MS) == pytest.approx(1002.0)
    assert over_budget(stamp, now=160.0, budget_ms=BUDGET_MS) == pytest.approx(60_000.0)


def test_no_stamp_an_unreadable_one_a_future_one_or_no_budget_never_shed() -> None:
    assert over_budget(None, now=500.0, budget_ms=BUDGET_MS) is None
    assert over_budget("t=yesterday", now=500.0, budget_ms=BUDGET_MS) is None
    # A proxy clock a little ahead of ours: the request waited no time at all.
    assert over_budget("t=500.300", now=500.0, budget_ms=BUDGET_MS) is None
    assert over_budget("t=100.000", now=500.0, budget_ms=0) is None


def test_the_stamp_counts_only_through_the_configured_proxies() -> None:
    assert came_through_proxies({"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, proxies=1)
    assert came_through_proxies({"HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.2"}, proxies=2)
    assert not came_through_proxies({"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, proxies=2)
    assert not came_through_proxies({}, proxies=1)
    assert not came_through_proxies({"HTTP_X_FORWARDED_FOR": " , "}, proxies=1)
    assert not came_through_proxies({"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, proxies=0)


def test_pages_and_the_complaint_post_are_shed_other_writes_health_and_a_new_receipt_are_not() -> None:
    assert sheddable("GET", "public.complaint_form")
    assert sheddable("HEAD", "tracking.case_page")
    assert sheddable("GET", "tracking.case_page", receipt_just_given=False)
    assert sheddable("GET", None)  # an unknown address costs as much to refuse as to shed
    assert sheddable("POST", "public.submit_form")
    assert not sheddable("POST", "tracking.add_info")
    assert not sheddable("GET", "health.healthz")
    assert not sheddable("GET", "tracking.case_page", receipt_just_given=True)


def test_a_shopper_sending_a_complaint_may_wait_longer_than_a_new_visitor() -> None:
    assert budget_for("public.complaint_form", 500) == 500
    assert budget_for("public.submit_form", 500) == 500 * FINISHING_FACTOR
    assert budget_for("tracking.case_page", 500) == 500
    assert budget_for("merchants.board", 500) == 500


def test_under_overload_the_door_closes_first_and_the_complaint_goes_through(
    app_config: dict[str, Any], factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    minute = 60_000
    app = create_app({**app_config, "QUEUE_BUDGET_MS": minute})
    # Two minutes in the queue: past a page's budget, within a finishing shopper's (3 minutes).
    waited = {"X-Request-Start": f"t={time.time() - 120:.3f}", "X-Forwarded-For": "203.0.113.7"}
    try:
        client = app.test_client()
        assert client.get(f"/c/{code}", headers=waited).status_code == 503
        sent = client.post(f"/c/{code}", data=complaint_form(), headers=waited)
        assert sent.status_code == 303
        # The receipt the redirect opens is served; the same page opened later is a page like any.
        assert client.get(sent.headers["Location"], headers=waited).status_code == 200
        assert client.get(sent.headers["Location"].split("?")[0], headers=waited).status_code == 503
    finally:
        app.extensions["kuaisu.engine"].dispose()


def test_a_page_past_the_budget_is_503_in_chinese_with_retry_after_and_no_sql(
    client: FlaskClient, factory: Factory, statements: list[str]
) -> None:
    receipt = factory.make_complaint()
    statements.clear()
    response = client.get(f"/t/{receipt.token}", headers=STALE)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "系统繁忙" in response.get_data(as_text=True)
    assert statements == []

    served = client.get(f"/t/{receipt.token}", headers=FRESH)
    assert served.status_code == 200
    assert statements


def test_a_complaint_past_the_budget_comes_back_as_typed_and_the_resend_stores_once(
    client: FlaskClient, factory: Factory, session: Session, statements: list[str]
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    form = complaint_form(idem="shed-key-0123456789abcdef", name="王阿姨", description="瓷砖开裂，要求退货。")
    statements.clear()
    response = client.post(f"/c/{code}", data=form, headers=STALE)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert statements == []
    page = response.get_data(as_text=True)
    assert "投诉暂未保存成功" in page
    for typed in ("瓷砖开裂，要求退货。", "13800138000", "王阿姨", "128.50"):
        assert typed in page
    kept = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page))
    assert kept["idem"] == "shed-key-0123456789abcdef"
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0

    first = client.post(f"/c/{code}", data=form, headers=FRESH)
    again = client.post(f"/c/{code}", data=form, headers=FRESH)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Complaint)) == 1


def test_a_stamp_that_did_not_come_through_the_proxy_is_ignored(
    app_config: dict[str, Any], client: FlaskClient, factory: Factory
) -> None:
    receipt = factory.make_complaint()
    # Straight to gunicorn: no X-Forwarded-For hop, so the stamp is the client's own word.
    response = client.get(f"/t/{receipt.token}", headers={"X-Request-Start": "t=1000000000.000"})
    assert response.status_code == 200

    two_proxies = create_app({**app_config, "TRUSTED_PROXIES": 2})
    try:
        one_hop = two_proxies.test_client().get(f"/t/{receipt.token}", headers=STALE)
        assert one_hop.status_code == 200
    finally:
        two_proxies.extensions["kuaisu.engine"].dispose()


def test_without_a_budget_nothing_is_shed(app_config: dict[str, Any], factory: Factory) -> None:
    receipt = factory.make_complaint()
    plain = create_app({**app_config, "QUEUE_BUDGET_MS": 0})
    try:
        assert plain.test_client().get(f"/t/{receipt.token}", headers=STALE).status_code == 200
    finally:
        plain.extensions["kuaisu.engine"].dispose()


def test_health_and_other_writes_are_served_however_long_they_waited(
    client: FlaskClient, factory: Factory
) -> None:
    receipt = factory.make_complaint()
    assert client.get("/healthz", headers=STALE).status_code == 200
    added = client.post(f"/t/{receipt.token}/info", data={"text": "补充：发票已找到。"}, headers=STALE)
    assert added.status_code != 503


def test_a_budget_needs_a_proxy_and_is_read_from_the_environment(tmp_path: Path) -> None:
    app = Flask("kuaisu_shedding_config", instance_path=str(tmp_path / "instance"))
    with pytest.raises(ConfigError, match="KUAISU_TRUSTED_PROXIES"):
        load_config(app, environ={"KUAISU_QUEUE_BUDGET_MS": "800"})
    with pytest.raises(ConfigError, match="KUAISU_QUEUE_BUDGET_MS"):
        load_config(app, environ={"KUAISU_QUEUE_BUDGET_MS": "-1", "KUAISU_TRUSTED_PROXIES": "1"})
    load_config(app, environ={"KUAISU_QUEUE_BUDGET_MS": "800", "KUAISU_TRUSTED_PROXIES": "1"})
    assert app.config["QUEUE_BUDGET_MS"] == 800
    load_config(app, environ={})
    assert app.config["QUEUE_BUDGET_MS"] == 0
