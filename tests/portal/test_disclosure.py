"""The public monthly disclosure: minimum-volume rule, complaints only, no personal data, cached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.db import get_engine
from portal.disclosure_cache import clear_all
from tests.factories import Factory

OCTOBER = datetime(2026, 10, 14, 3, 0, tzinfo=UTC)
PEOPLE = [
    (f"1391234{n:04d}", name)
    for n, name in enumerate(
        (
            "欧阳娜娜",
            "司马相如",
            "诸葛孔明",
            "上官婉儿",
            "东方不败",
            "令狐冲",
            "慕容复",
            "独孤求败",
            "西门吹雪",
            "南宫仆射",
        ),
        start=1000,
    )
]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_all()
    yield
    clear_all()


@pytest.fixture
def seeded(factory: Factory, session: Session) -> dict[str, Any]:
    """Shop 甲 has 6 complaints in October (4 settled by itself), shop 乙 has 2, plus noise."""
    market = factory.make_market(name="万博装饰市场")
    big = factory.make_merchant(market, name="甲瓷砖")
    small = factory.make_merchant(market, name="乙卫浴")
    people = iter(PEOPLE)
    cases = []
    for i in range(6):
        phone, name = next(people)
        case = factory.make_complaint(big, now=OCTOBER + timedelta(hours=i), phone=phone, name=name).complaint
        case.outcome = "self_settled" if i < 4 else "mediated"
        case.status, case.closed_at = "closed", OCTOBER + timedelta(hours=i + 1)
        case.satisfaction, case.rated_at = (5 if i % 2 else 4), OCTOBER + timedelta(hours=i + 2)
        cases.append(case)
    for _ in range(2):
        phone, name = next(people)
        cases.append(factory.make_complaint(small, now=OCTOBER, phone=phone, name=name).complaint)
    phone, name = next(people)
    factory.make_complaint(small, now=OCTOBER, kind="report", phone=phone, name=name)
    phone, name = next(people)
    hidden = factory.make_complaint(big, now=OCTOBER, phone=phone, name=name).complaint
    hidden.hidden_at, hidden.hidden_reason = OCTOBER, "duplicate"
    session.commit()
    return {"market": market, "big": big, "small": small, "cases": cases}


def _page(client: FlaskClient, query: str = "month=2026-10") -> str:
    response = client.get(f"/public/disclosure?{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _card(html: str, name: str) -> str:
    return html.split(name, 1)[1].split("</li>", 1)[0]


def test_market_and_shop_figures_with_the_minimum_volume_rule(
    client: FlaskClient, seeded: dict[str, Any]
) -> None:
    top = _page(client)
    assert "万博装饰市场" in top and "投诉" in top
    market = _card(top, "万博装饰市场")
    assert "<dd>8</dd>" in market  # 6 + 2 complaints; the report and the hidden case are left out
    shops = _page(client, f"month=2026-10&market={seeded['market'].id}")
    big, small = _card(shops, "甲瓷砖"), _card(shops, "乙卫浴")
    assert "<dd>6</dd>" in big and "66.7%" in big and "4.5 / 5" in big
    assert "<dd>2</dd>" in small and "%" not in small and "—<sup>*</sup>" in small
    assert "举报" in shops  # the footnote explains that reports are not published per shop


def test_the_threshold_is_configurable(
    app_config: dict[str, Any], factory: Factory, session: Session
) -> None:
    from portal import create_app

    app_config["DISCLOSURE_MIN_CASES"] = 2
    app = create_app(app_config)
    shop = factory.make_merchant(name="丙烟酒")
    for _ in range(2):
        case = factory.make_complaint(shop, now=OCTOBER).complaint
        case.outcome, case.status = "self_settled", "closed"
    session.commit()
    html = app.test_client().get(f"/public/disclosure?month=2026-10&market={shop.market_id}").text
    assert "100.0%" in _card(html, "丙烟酒")
    get_engine_of(app).dispose()


def get_engine_of(app: Flask) -> Any:
    return app.extensions["kuaisu.engine"]


def test_no_personal_data_anywhere(client: FlaskClient, seeded: dict[str, Any]) -> None:
    pages = [
        _page(client),
        _page(client, f"month=2026-10&market={seeded['market'].id}"),
        _page(client, "month=2026-10&market=0"),
        _page(client, "month=2026-10&lang=en"),
    ]
    for html in pages:
        for phone, name in PEOPLE:
            assert phone not in html and name not in html
            assert f"****{phone[-4:]}" not in html and f"{phone[:3]}****" not in html


def test_cached_pages_cost_no_query_and_set_no_cookie(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    first = client.get("/public/disclosure?month=2026-10")
    statements: list[str] = []
    with app.app_context():
        engine = get_engine()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        second = client.get("/public/disclosure?month=2026-10")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert second.data == first.data and statements == []
    assert second.headers["Cache-Control"] == "public, max-age=300"
    assert "Set-Cookie" not in second.headers and "Set-Cookie" not in first.headers
    assert "Accept-Language" in second.headers["Vary"]


def test_default_is_last_month_in_chinese_on_a_phone(client: FlaskClient, seeded: dict[str, Any]) -> None:
    html = _page(client, "")
    assert 'lang="zh-CN"' in html and 'name="viewport"' in html and "投诉" in html


@pytest.mark.parametrize(
    "query",
    ["month=2026-13", "month=2099-01", "month=abc", "month=2026-10&market=999999", "month=2026-10&market=x"],
)
def test_bad_requests_are_404(client: FlaskClient, query: str) -> None:
    assert client.get(f"/public/disclosure?{query}").status_code == 404
