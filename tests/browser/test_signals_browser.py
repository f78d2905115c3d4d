"""Real Chromium: station staff see a possible duplicate on a case's page and link it as one case;
the shopper's receipt of the merged case then leads to the case that continues. Station staff
narrow the board to repeat numbers and undo a link made by mistake."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.duplicates import link_duplicate
from portal.models import Complaint
from portal.signals import SignalPolicy
from tests.browser.test_backoffice import sign_in, staff
from tests.factories import Factory


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Use a session outside any app context; the live server commits in its own threads."""
    return detached_session


def test_station_links_a_duplicate_and_the_shopper_follows_the_case_that_continues(
    live_server: str, desktop_page: Page, phone_page: Page, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    sent = utcnow() - timedelta(hours=5)
    first = factory.make_complaint(merchant, now=sent, description="瓷砖有裂纹，商家拒绝退换。")
    second = factory.make_complaint(
        merchant, now=sent + timedelta(hours=2), description="还是那批瓷砖，没人理我。"
    )
    secret = pyotp.random_base32()
    station = staff(session, "station", secret, market=merchant.market, name="王站长")
    sign_in(desktop_page, live_server, station, secret)

    desktop_page.goto(f"{live_server}/office/complaints/{second.complaint.case_number}")
    suggestions = desktop_page.locator("#duplicates")
    expect(suggestions).to_contain_text("可能重复的投诉")
    expect(suggestions).to_contain_text(first.complaint.case_number)
    with desktop_page.expect_navigation():
        suggestions.get_by_role("button", name="并为一案").click()
    expect(desktop_page.locator(".flash.ok")).to_contain_text("已并为一案")
    expect(desktop_page.locator("#linked-to")).to_contain_text(first.complaint.case_number)
    expect(desktop_page.locator("#duplicates")).to_have_count(0)
    expect(desktop_page.locator(".status")).to_contain_text("已办结")

    session.expire_all()
    merged = session.get(Complaint, second.complaint.id)
    assert merged is not None and merged.linked_to_id == first.complaint.id

    phone_page.goto(f"{live_server}/t/{second.token}")
    expect(phone_page.locator("#continues")).to_contain_text(
        f"请看投诉编号 {first.complaint.case_number} 的处理进度"
    )
    with phone_page.expect_navigation():
        phone_page.locator("#continues a").click()
    expect(phone_page).to_have_url(re.compile(rf"/t/{re.escape(first.token)}$"))
    expect(phone_page.locator("#timeline")).to_be_visible()
    expect(phone_page.locator("ol.timeline")).to_contain_text(
        f"您就同一件事提交的投诉 {second.complaint.case_number} 已并入本案"
    )


def test_station_filters_repeat_numbers_and_undoes_a_mistaken_link(
    live_server: str, desktop_page: Page, phone_page: Page, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    sent = utcnow() - timedelta(days=2)
    claimant = [
        factory.make_complaint(merchant, now=sent + timedelta(hours=3 * n), phone="13912345678")
        for n in range(10)
    ]
    ordinary = factory.make_complaint(merchant, now=sent, phone="13800000001").complaint
    secret = pyotp.random_base32()
    station = staff(session, "station", secret, market=merchant.market, name="王站长")
    first, second = claimant[0].complaint, claimant[1].complaint
    link_duplicate(
        session,
        first,
        second,
        station,
        version=first.version,
        other_version=second.version,
        now=utcnow() - timedelta(hours=1),
        salt=factory.salt,
        policy=SignalPolicy(),
    )
    session.commit()
    sign_in(desktop_page, live_server, station, secret)

    desktop_page.locator("details.card summary").click()
    desktop_page.get_by_label("仅看重复号码").check()
    with desktop_page.expect_navigation():
        desktop_page.locator("form.filterbar button[type=submit]").click()
    expect(desktop_page).to_have_url(re.compile(r"flagged=1"))
    board = desktop_page.locator("#board")
    expect(board.locator(".bcard")).to_have_count(10)
    expect(board.locator(".bcard .tag.repeat")).to_have_count(10)
    expect(board).not_to_contain_text(ordinary.case_number)
    expect(desktop_page.get_by_label("仅看重复号码")).to_be_checked()

    with desktop_page.expect_navigation():
        board.get_by_role("link", name=second.case_number).click()
    linked = desktop_page.locator("#linked-to")
    linked.get_by_text("不是同一件事？撤销并案").click()
    linked.get_by_label("为什么不是同一件事").fill("两次是不同的订单。")
    with desktop_page.expect_navigation():
        linked.get_by_role("button", name="撤销并案").click()
    expect(desktop_page.locator(".flash.ok")).to_contain_text("已撤销并案")
    expect(desktop_page.locator("#linked-to")).to_have_count(0)
    expect(desktop_page.locator("ol.timeline")).to_contain_text(f"已撤销与 {first.case_number} 的并案")
    expect(desktop_page.locator(".status")).not_to_contain_text("已办结")

    phone_page.goto(f"{live_server}/t/{claimant[1].token}")
    expect(phone_page.locator("#continues")).to_have_count(0)
    expect(phone_page.locator("ol.timeline")).to_contain_text(
        f"经核实，此投诉与您的投诉 {first.case_number} 并非同一件事"
    )
