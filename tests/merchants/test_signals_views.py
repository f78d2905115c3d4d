"""The repeat-phone flag and possible duplicates on a case's page, and linking, through HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.db import utcnow
from portal.models import Complaint, Event, Merchant, User
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as

CLAIMANT = "13912345678"
FLAG = re.compile(r"该号码 7 天内投诉举报 (\d+) 次，涉及 (\d+) 家商户")


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


@dataclass
class World:
    """A market with three shops and staff, a second market under another office, and a district."""

    base: datetime
    shops: list[Merchant]
    elsewhere: Merchant
    merchant_user: User
    station: User
    regulator: User
    district: User
    stranger: User
    token: dict[int, str]

    def file(self, factory: Factory, shop: Merchant, hours: float, phone: str = CLAIMANT) -> Complaint:
        """File a complaint `hours` after the base time and keep its receipt token."""
        receipt = factory.make_complaint(shop, now=self.base + timedelta(hours=hours), phone=phone)
        self.token[receipt.complaint.id] = receipt.token
        return receipt.complaint


@pytest.fixture
def world(session: Session, factory: Factory) -> World:
    district = factory.make_unit("英雄区市场监管局", level="district")
    office_a = factory.make_unit("英雄南路市场监管所", parent=district)
    office_b = factory.make_unit("紫金街市场监管所", parent=district)
    market = factory.make_market(office_a)
    shops = [factory.make_merchant(market, name=name) for name in ("张记瓷砖", "李家灯具", "王氏地板")]
    elsewhere = factory.make_merchant(factory.make_market(office_b, name="紫金街农贸市场"), name="老王水果店")
    return World(
        # The views act at the real clock; the cases were sent days before it, at exact offsets.
        base=utcnow() - timedelta(days=6),
        shops=shops,
        elsewhere=elsewhere,
        merchant_user=make_user(session, "merchant", merchant=shops[0], name="张老板"),
        station=make_user(session, "station", market=market, name="王站长"),
        regulator=make_user(session, "regulator", unit=office_a, name="李科员"),
        district=make_user(session, "regulator", unit=district, name="区局"),
        stranger=make_user(session, "station", market=elsewhere.market, name="外站"),
        token={},
    )


def page(client: FlaskClient, user: User, case: Complaint) -> str:
    login_as(client, user)
    response = client.get(f"/office/complaints/{case.case_number}")
    assert response.status_code == 200
    return response.text


def _claimant(factory: Factory, world: World) -> tuple[list[Complaint], list[Complaint]]:
    """Seven cases in the market (three shops) and three in the other office's market: ten in 2 days."""
    here = [world.file(factory, world.shops[n % 3], n * 2) for n in range(7)]
    there = [world.file(factory, world.elsewhere, 1 + n * 3) for n in range(3)]
    return here, there


def test_station_sees_the_flag_with_its_own_cases_and_a_count_of_the_rest(
    client: FlaskClient, factory: Factory, world: World
) -> None:
    here, there = _claimant(factory, world)
    text = page(client, world.station, here[3])
    found = FLAG.search(text)
    assert found and found.groups() == ("10", "4")
    for case in here:
        assert case.case_number in text
    for case in there:
        assert case.case_number not in text  # another office's cases: counted, never named
    assert "其中 3 件不在您的管辖范围内" in text
    assert "职业索赔人也是消费者" in text
    assert CLAIMANT not in text and "老王水果店" not in text


def test_the_district_sees_every_case_and_merchants_never_see_the_flag(
    client: FlaskClient, factory: Factory, world: World
) -> None:
    here, there = _claimant(factory, world)
    text = page(client, world.district, here[0])
    assert FLAG.search(text) and all(c.case_number in text for c in here + there)
    assert "不在您的管辖范围内" not in text
    merchant_page = page(client, world.merchant_user, here[0])
    assert FLAG.search(merchant_page) is None and "repeat-phone" not in merchant_page
    assert "可能重复" not in merchant_page and here[3].case_number not in merchant_page


def test_nine_cases_raise_no_flag(client: FlaskClient, factory: Factory, world: World) -> None:
    cases = [world.file(factory, world.shops[n % 3], n * 2) for n in range(9)]
    assert FLAG.search(page(client, world.station, cases[0])) is None
    cases.append(world.file(factory, world.shops[0], 7 * 24))  # exactly 7 days after the first
    assert FLAG.search(page(client, world.station, cases[0]))


def _link_form(text: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="([^"]+/link)" class="link-form">(.*?)</form>', text, re.S)
    assert form, "no link form on the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    return {"action": form.group(1), **fields}


def test_station_links_a_duplicate_and_the_shopper_is_told_where_it_continues(
    client: FlaskClient, session: Session, factory: Factory, world: World, app: Flask
) -> None:
    first = world.file(factory, world.shops[0], 0)
    second = world.file(factory, world.shops[0], 30)
    other_shop = world.file(factory, world.shops[1], 1)
    text = page(client, world.station, second)
    assert "可能重复的投诉" in text and first.case_number in text
    assert other_shop.case_number not in text
    form = _link_form(text)
    assert form["other"] == first.case_number
    response = client.post(form.pop("action"), data=form)
    assert response.status_code == 303
    session.expire_all()
    merged, primary = session.get(Complaint, second.id), session.get(Complaint, first.id)
    assert merged is not None and primary is not None
    assert (merged.status, merged.linked_to_id, primary.status) == ("closed", first.id, "new")
    assert verify_chains(session, app.config["PHONE_SALT"])[1] is None
    after = client.get(f"/office/complaints/{second.case_number}").text
    assert "本案为重复投诉，已并案办结" in after and f"已作为 {first.case_number} 的重复投诉并案办结" in after
    assert f"投诉 {second.case_number} 已作为重复投诉并入本案" in page(client, world.station, first)
    board = client.get("/office/?colour=green").text
    assert "已并案" in board
    # The shopper's receipt of the merged case says, in Chinese, which case continues, and links to it.
    track = client.get(f"/t/{world.token[second.id]}").text
    assert f"此投诉与您的投诉 {first.case_number} 是同一件事，两件已合并" in track
    assert f"/t/{world.token[first.id]}" in track
    assert "您对这次处理满意吗" not in track  # a merged case is rated through the one that continues
    assert (
        f"您就同一件事提交的投诉 {second.case_number} 已并入本案"
        in client.get(f"/t/{world.token[first.id]}").text
    )


def _events(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Event).where(Event.kind.like("merged%"))) or 0


def test_linking_out_of_scope_is_404_and_merchants_are_refused(
    client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    first = world.file(factory, world.shops[0], 0)
    second = world.file(factory, world.shops[0], 5)
    foreign = world.file(factory, world.elsewhere, 6)
    form = _link_form(page(client, world.station, second))
    action = form.pop("action")
    # The other case belongs to another office's market: not found, nothing recorded.
    assert client.post(action, data={**form, "other": foreign.case_number}).status_code == 404
    # This case, seen by the other market's station: not found either.
    login_as(client, world.stranger)
    assert client.post(action, data=form).status_code == 404
    login_as(client, world.merchant_user)
    assert client.post(action, data=form).status_code == 403
    assert _events(session) == 0
    assert session.get(Complaint, second.id).linked_to_id is None  # type: ignore[union-attr]
    assert first.id


def test_linking_needs_the_csrf_token(
    app: Flask, client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    world.file(factory, world.shops[0], 0)
    second = world.file(factory, world.shops[0], 5)
    form = _link_form(page(client, world.station, second))
    action = form.pop("action")
    forged = {**form, "csrf_token": "forged"}
    assert client.post(action, data=forged).status_code == 400
    assert _events(session) == 0
    assert client.post(action, data=form).status_code == 303
    assert _events(session) == 2


def test_a_stale_page_is_refused_and_shown_again(
    client: FlaskClient, session: Session, factory: Factory, world: World
) -> None:
    world.file(factory, world.shops[0], 0)
    second = world.file(factory, world.shops[0], 5)
    form = _link_form(page(client, world.station, second))
    action = form.pop("action")
    response = client.post(action, data={**form, "other_version": str(int(form["other_version"]) + 1)})
    assert response.status_code == 409 and "Someone else changed this case" not in response.text
    assert "其他人刚刚修改了此案件" in response.text
    assert _events(session) == 0
