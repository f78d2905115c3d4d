"""The black / red / green board: scope, colours, filters, keyset pages, search and the poll."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from merchants.boardfilters import BoardFilters
from merchants.boardquery import column_page
from portal.lifecycle import take
from portal.models import Complaint, Merchant, User
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as

SALT = "test-secret-key-0123456789abcdef"


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Use a session outside any app context, so every request gets its own database session."""
    return detached_session


def cards(html: str, colour: str | None = None) -> list[str]:
    """Return the case numbers on the page (in one colour's column, if given)."""
    if colour is not None:
        start = html.index(f'data-colour="{colour}"')
        end = html.find("<section", start)
        html = html[start : end if end > 0 else None]
    return re.findall(r'class="num" href="[^"]+">(KS[0-9-]+)<', html)


@pytest.fixture
def shops(factory: Factory) -> tuple[Merchant, Merchant, Merchant]:
    """Two shops in one market and a third in another market of the same office."""
    first = factory.make_merchant(name="张记瓷砖")
    assert first.market is not None
    second = factory.make_merchant(first.market, name="鑫隆卫浴", category="price")
    other_market = factory.make_market(first.unit, name="紫金街农贸市场")
    third = factory.make_merchant(other_market, name="老王水果店", category="food")
    return first, second, third


def test_each_role_sees_only_its_scope(
    client: FlaskClient, session: Session, factory: Factory, shops: tuple[Merchant, Merchant, Merchant]
) -> None:
    first, second, third = shops
    mine = factory.make_complaint(first).complaint.case_number
    report = factory.make_complaint(first, kind="report").complaint.case_number
    neighbour = factory.make_complaint(second).complaint.case_number
    elsewhere = factory.make_complaint(third).complaint.case_number

    login_as(client, make_user(session, "merchant", merchant=first))
    assert set(cards(client.get("/office/").text)) == {mine}  # reports stay confidential
    login_as(client, make_user(session, "station", market=first.market))
    assert set(cards(client.get("/office/").text)) == {mine, report, neighbour}
    login_as(client, make_user(session, "regulator", unit=first.unit))
    assert set(cards(client.get("/office/").text)) == {mine, report, neighbour, elsewhere}


def test_cards_sit_in_their_colour_and_name_the_taker(
    client: FlaskClient,
    session: Session,
    factory: Factory,
    shops: tuple[Merchant, Merchant, Merchant],
) -> None:
    first = shops[0]
    station = make_user(session, "station", market=first.market, name="王站长")
    black = factory.make_complaint(first).complaint
    red = factory.make_complaint(first).complaint
    take(session, red, station, version=1, now=NOW, salt=SALT)
    session.commit()
    login_as(client, station)
    page = client.get("/office/").text
    assert cards(page, "black") == [black.case_number]
    assert cards(page, "red") == [red.case_number]
    assert cards(page, "green") == []
    assert "王站长" in page


def test_overdue_cards_stand_out(client: FlaskClient, session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    factory.make_complaint(merchant, now=NOW - timedelta(days=3))
    login_as(client, make_user(session, "merchant", merchant=merchant))
    assert "overdue-card" in client.get("/office/").text


def test_keyset_pages_continue_without_overlap(session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    numbers = [factory.make_complaint(merchant).complaint.id for _ in range(23)]
    user = make_user(session, "merchant", merchant=merchant)
    seen: list[int] = []
    before = None
    while True:
        page = column_page(session, user, "black", BoardFilters(), before, size=10)
        seen += [card.complaint.id for card in page.cards]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == sorted(numbers, reverse=True)


@pytest.mark.parametrize("role", ["regulator", "admin"])
def test_keyset_pages_over_a_subtree_merge_its_units(
    app: Flask, session: Session, factory: Factory, role: str
) -> None:
    """A subtree is one index range per unit: merged, pages give every case once, in order."""
    district = factory.make_unit("潞州区市场监督管理局", "district")
    offices = [factory.make_unit(f"监管所{n}", "office", district) for n in range(2)]
    shops = [
        factory.make_merchant(factory.make_market(office, name=f"市场{n}"))
        for n, office in enumerate(offices)
    ]
    made = [factory.make_complaint(shops[n % 2]).complaint.id for n in range(17)]
    other = factory.make_merchant(factory.make_market(name="外区市场"))
    outside = factory.make_complaint(other).complaint.id
    user = make_user(session, role, unit=district if role == "regulator" else None)
    seen: list[int] = []
    before = None
    with app.app_context():  # the subtree is cached per request in g
        while True:
            page = column_page(session, user, "black", BoardFilters(), before, size=5)
            seen += [card.complaint.id for card in page.cards]
            if page.next_before is None:
                break
            before = page.next_before
    expected = sorted(made + ([outside] if role == "admin" else []), reverse=True)
    assert seen == expected


def test_more_link_opens_the_next_page(client: FlaskClient, session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    made = [factory.make_complaint(merchant).complaint.case_number for _ in range(22)]
    login_as(client, make_user(session, "merchant", merchant=merchant))
    first = client.get("/office/").text
    assert cards(first, "black") == made[::-1][:20]
    more = re.search(r'class="more" href="([^"]+)"', first)
    assert more is not None and "colour=black" in more[1]
    second = client.get(more[1].replace("&amp;", "&")).text
    assert cards(second) == made[::-1][20:]


def test_filters_narrow_the_board(
    client: FlaskClient, session: Session, factory: Factory, shops: tuple[Merchant, Merchant, Merchant]
) -> None:
    first, second, _third = shops
    tiles = factory.make_complaint(first).complaint.case_number
    taps = factory.make_complaint(second).complaint.case_number
    report = factory.make_complaint(second, kind="report").complaint.case_number
    # 00:30 on 24 November in Shanghai is still 23 November in UTC.
    late = factory.make_complaint(first, now=NOW + timedelta(hours=10, minutes=30)).complaint
    login_as(client, make_user(session, "station", market=first.market))
    assert set(cards(client.get(f"/office/?merchant={first.id}").text)) == {tiles, late.case_number}
    assert set(cards(client.get("/office/?category=price").text)) == {taps, report}
    assert set(cards(client.get("/office/?kind=report").text)) == {report}
    assert set(cards(client.get("/office/?from=2026-11-24&to=2026-11-24").text)) == {late.case_number}
    assert set(cards(client.get("/office/?to=2026-11-23").text)) == {tiles, taps, report}
    assert cards(client.get("/office/?colour=green").text) == []
    assert set(cards(client.get("/office/?shop=卫浴").text)) == {taps, report}
    assert set(cards(client.get("/office/?category=nonsense&from=bad").text)) == {
        tiles,
        taps,
        report,
        late.case_number,
    }


def test_a_date_range_holds_exactly_the_cases_of_its_days(
    client: FlaskClient, session: Session, factory: Factory, shops: tuple[Merchant, Merchant, Merchant]
) -> None:
    first = shops[0]
    midnight = NOW.replace(hour=16)  # 24 November 00:00 in Shanghai
    # Made in this order, so ids follow it; near each midnight, ids and times cross (ID_SKEW).
    at = {
        "long before": -timedelta(days=2),
        "23:20 on the 23rd": -timedelta(minutes=40),
        "00:10": timedelta(minutes=10),
        "23:50 on the 23rd, after 00:10": -timedelta(minutes=10),
        "noon": timedelta(hours=12),
        "00:05 on the 25th": timedelta(days=1, minutes=5),
        "23:55, after the 25th began": timedelta(hours=23, minutes=55),
        "03:00 on the 25th": timedelta(days=1, hours=3),
    }
    made = {name: factory.make_complaint(first, now=midnight + delta).complaint for name, delta in at.items()}
    number = {name: case.case_number for name, case in made.items()}
    on_the_24th = {number["00:10"], number["noon"], number["23:55, after the 25th began"]}
    login_as(client, make_user(session, "station", market=first.market))
    assert set(cards(client.get("/office/?from=2026-11-24&to=2026-11-24").text)) == on_the_24th
    since_24th = on_the_24th | {number["00:05 on the 25th"], number["03:00 on the 25th"]}
    assert set(cards(client.get("/office/?from=2026-11-24").text)) == since_24th
    before_25th = set(number.values()) - {number["00:05 on the 25th"], number["03:00 on the 25th"]}
    assert set(cards(client.get("/office/?to=2026-11-24").text)) == before_25th
    polled = client.get("/office/board/updates?since=1&from=2026-11-24&to=2026-11-24").json
    assert {re.findall(r">(KS[0-9-]+)<", card["html"])[0] for card in polled["cards"]} == on_the_24th


def test_case_number_search_is_for_station_and_regulator(
    client: FlaskClient,
    session: Session,
    factory: Factory,
) -> None:
    merchant = factory.make_merchant()
    wanted = factory.make_complaint(merchant).complaint.case_number
    factory.make_complaint(merchant)
    login_as(client, make_user(session, "station", market=merchant.market))
    assert cards(client.get(f"/office/?q={wanted.lower()}").text) == [wanted]
    login_as(client, make_user(session, "merchant", merchant=merchant))
    assert len(cards(client.get(f"/office/?q={wanted}").text)) == 2  # ignored for merchants


def test_phone_search_is_posted_and_scoped(
    client: FlaskClient, session: Session, factory: Factory, shops: tuple[Merchant, Merchant, Merchant]
) -> None:
    first, _second, third = shops
    mine = factory.make_complaint(first, phone="13912345678").complaint.case_number
    factory.make_complaint(first, phone="13800138000")
    factory.make_complaint(third, phone="13912345678")  # another market: not the station's
    login_as(client, make_user(session, "station", market=first.market))
    assert "13912345678" not in client.get("/office/").text
    found = client.post("/office/board/phone", data={"phone": "139 1234 5678"})
    assert found.status_code == 200
    assert cards(found.text) == [mine]
    assert client.post("/office/board/phone", data={"phone": "12345"}).status_code == 400
    assert client.get("/office/board/phone").status_code == 405


def test_merchant_staff_cannot_search_by_phone(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    login_as(client, make_user(session, "merchant", merchant=merchant))
    assert client.post("/office/board/phone", data={"phone": "13800138000"}).status_code in (403, 404)
    assert 'action="/office/board/phone"' not in client.get("/office/").text


def test_updates_bring_new_cases_in_scope(
    client: FlaskClient, session: Session, factory: Factory, shops: tuple[Merchant, Merchant, Merchant]
) -> None:
    first, _second, third = shops
    factory.make_complaint(first)
    login_as(client, make_user(session, "merchant", merchant=first))
    page = client.get("/office/").text
    since = re.search(r'data-since="(\d+)"', page)
    assert since is not None and 'data-poll="' in page
    assert client.get(f"/office/board/updates?since={since[1]}").json["count"] == 0
    fresh = factory.make_complaint(first).complaint
    factory.make_complaint(third)
    answer = client.get(f"/office/board/updates?since={since[1]}").json
    assert answer["count"] == 1 and answer["latest"] == fresh.id
    assert answer["cards"][0]["colour"] == "black"
    assert fresh.case_number in answer["cards"][0]["html"]
    assert client.get(f"/office/board/updates?since={fresh.id}").json["count"] == 0
    assert client.get("/office/board/updates?since=x").json["count"] == 0


def test_board_script_is_served_from_the_app(client: FlaskClient) -> None:
    script = client.get("/office/board.js")
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"
    assert b"board/updates" not in script.data  # the URL comes from the page's data attribute


def test_board_speaks_chinese_and_needs_login(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    assert client.get("/office/").status_code in (302, 303)
    merchant = factory.make_merchant()
    login_as(client, make_user(session, "merchant", merchant=merchant))
    page = client.get("/office/", headers={"Accept-Language": "zh-CN"}).text
    assert "黑" in page and "绿" in page


def test_board_query_count_stays_small(
    app: Flask, client: FlaskClient, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    for _ in range(30):
        factory.make_complaint(merchant)
    user: User = make_user(session, "regulator", unit=merchant.unit)
    login_as(client, user)
    statements: list[str] = []
    engine = app.extensions["kuaisu.engine"]

    def count(*_args: object) -> None:
        statements.append("q")

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/office/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 12
    assert session.query(Complaint).count() == 30
