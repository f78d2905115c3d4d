"""The board's repeat-number filter: scoped by role and tenant, never for merchants, on its indexes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from merchants.boardfilters import BoardFilters
from merchants.boardquery import board_columns, cards_since
from portal.db import utcnow
from portal.models import Complaint, Merchant, User
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as
from tests.portal.test_signals_plan import captured, plan

CLAIMANT = "13912345678"
TAG = '<span class="tag repeat">重复号码</span>'


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own database session, as in production."""
    return detached_session


@dataclass
class World:
    """Two offices under a district, a market in each, a claimant in both, ordinary shoppers."""

    shops: list[Merchant]
    elsewhere: Merchant
    flagged_here: list[Complaint]
    flagged_there: list[Complaint]
    plain: list[Complaint]
    users: dict[str, User]


@pytest.fixture
def world(session: Session, factory: Factory) -> World:
    district = factory.make_unit("英雄区市场监管局", level="district")
    office_a = factory.make_unit("英雄南路市场监管所", parent=district)
    office_b = factory.make_unit("紫金街市场监管所", parent=district)
    market = factory.make_market(office_a)
    shops = [factory.make_merchant(market, name=name) for name in ("张记瓷砖", "李家灯具")]
    elsewhere = factory.make_merchant(factory.make_market(office_b, name="紫金街农贸市场"), name="老王水果店")
    base = utcnow() - timedelta(days=3)
    # Seven cases in this market and three in the other office's: ten in two days.
    here = [
        factory.make_complaint(shops[n % 2], now=base + timedelta(hours=2 * n), phone=CLAIMANT).complaint
        for n in range(7)
    ]
    there = [
        factory.make_complaint(elsewhere, now=base + timedelta(hours=1 + 3 * n), phone=CLAIMANT).complaint
        for n in range(3)
    ]
    plain = [
        factory.make_complaint(shop, now=base + timedelta(hours=30), phone=f"1380000000{n}").complaint
        for n, shop in enumerate([*shops, elsewhere])
    ]
    users = {
        "merchant": make_user(session, "merchant", merchant=shops[0]),
        "station": make_user(session, "station", market=market),
        "office": make_user(session, "regulator", unit=office_a),
        "district": make_user(session, "regulator", unit=district),
        "admin": make_user(session, "admin"),
        "stranger": make_user(session, "station", market=elsewhere.market),
    }
    return World(shops, elsewhere, here, there, plain, users)


def cards(html: str) -> set[str]:
    return set(re.findall(r'class="num" href="[^"]+">(KS[0-9-]+)<', html))


def numbers(cases: list[Complaint]) -> set[str]:
    return {c.case_number for c in cases}


def test_station_and_regulators_filter_their_own_flagged_cases(client: FlaskClient, world: World) -> None:
    expected = {
        "station": numbers(world.flagged_here),
        "office": numbers(world.flagged_here),
        "district": numbers(world.flagged_here + world.flagged_there),
        "admin": numbers(world.flagged_here + world.flagged_there),
        "stranger": numbers(world.flagged_there),
    }
    for who, wanted in expected.items():
        login_as(client, world.users[who])
        board = client.get("/office/?flagged=1").text
        assert cards(board) == wanted, who
        assert board.count(TAG) == len(wanted), who
        assert 'name="flagged" value="1" checked' in board and "仅看重复号码" in board
        # The unfiltered board shows the same flag on the same cards, beside the others.
        full = client.get("/office/").text
        assert cards(full) >= wanted and full.count(TAG) == len(wanted)


def test_the_filter_keeps_to_the_shop_and_other_filters(client: FlaskClient, world: World) -> None:
    login_as(client, world.users["station"])
    shop = world.shops[1]
    board = client.get(f"/office/?flagged=1&merchant={shop.id}").text
    assert cards(board) == {c.case_number for c in world.flagged_here if c.merchant_id == shop.id}
    assert cards(client.get("/office/?flagged=1&kind=report").text) == set()
    more = client.get("/office/?flagged=1&colour=black").text
    assert cards(more) == numbers(world.flagged_here)


def test_merchants_never_see_the_flag_nor_the_filter(client: FlaskClient, world: World) -> None:
    login_as(client, world.users["merchant"])
    board = client.get("/office/?flagged=1").text
    own = {c.case_number for c in world.flagged_here + world.plain if c.merchant_id == world.shops[0].id}
    assert cards(board) == own  # the parameter is ignored: the usual board
    assert "重复号码" not in board and 'name="flagged"' not in board and 'class="tag repeat"' not in board
    poll = client.get("/office/board/updates?since=0&flagged=1").get_json()
    assert poll["count"] == len(own) and not any("重复号码" in card["html"] for card in poll["cards"])


def test_the_poll_keeps_the_filter(client: FlaskClient, world: World) -> None:
    login_as(client, world.users["district"])
    since = min(c.id for c in world.flagged_here + world.flagged_there + world.plain) - 1
    poll = client.get(f"/office/board/updates?since={since}&flagged=1").get_json()
    got = {re.search(r">(KS[0-9-]+)<", card["html"]).group(1) for card in poll["cards"]}  # type: ignore[union-attr]
    assert got == numbers(world.flagged_here + world.flagged_there)
    assert all(TAG in card["html"] for card in poll["cards"])


def test_the_filter_is_in_chinese(app: Flask, client: FlaskClient, world: World) -> None:
    login_as(client, world.users["station"])
    board = client.get("/office/", headers={"Accept-Language": "zh-CN"}).text
    assert "仅看重复号码" in board and "Repeat numbers only" not in board


@pytest.fixture
def in_app(app: Flask) -> Iterator[None]:
    with app.test_request_context():
        yield


def _board_statements(session: Session, user: User, filters: BoardFilters) -> list[tuple[str, object]]:
    with captured(session) as found:
        board_columns(session, user, filters, top=10**9)
        cards_since(session, user, filters, 0)
    return [(s, p) for s, p in found if "complaint.repeat_phone_flag =" in s]


@pytest.mark.usefixtures("in_app")
def test_flagged_walks_read_the_partial_indexes(session: Session, world: World) -> None:
    # A million cases are not needed to see the plan: the walk must name a _flagged index.
    cases = [
        ("station", BoardFilters(flagged=True)),
        ("station", BoardFilters(flagged=True, shop="张记")),
        ("station", BoardFilters(flagged=True, merchant=world.shops[0].id)),
        ("office", BoardFilters(flagged=True, category="quality")),
        ("district", BoardFilters(flagged=True)),
        ("admin", BoardFilters(flagged=True, kind="complaint")),
    ]
    for who, filters in cases:
        statements = _board_statements(session, world.users[who], filters)
        walks = [(s, p) for s, p in statements if "ORDER BY" in s and "complaint.id >" not in s]
        assert walks, who
        for statement, parameters in walks:
            assert "_flagged" in plan(session, statement, parameters), (who, statement)
    session.rollback()
