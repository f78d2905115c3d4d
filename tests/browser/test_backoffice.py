"""Real Chromium: the station works a new case from the board to green, the shopper follows and
rates it, and a merchant at the counter sees only their own shop on a phone."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from merchants.accounts import hash_password
from portal.db import utcnow
from portal.models import Merchant, User
from tests.factories import Factory, make_user

PASSWORD = "kuaisu-test-Pass-2026"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Poll every second, so a new case shows up quickly without the test sleeping."""
    app_config["BOARD_POLL_SECONDS"] = 1
    return app_config


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Use a session outside any app context; the live server commits in its own threads."""
    return detached_session


def sign_in(page: Page, base: str, user: User, secret: str | None = None) -> None:
    """Sign in through the real login page, with the authenticator code where required."""
    page.goto(f"{base}/office/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    if secret is not None:
        page.wait_for_url(re.compile(r"/office/login/code"))
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/office/$"))


def staff(session: Session, role: str, secret: str | None = None, **scope: Any) -> User:
    return make_user(session, role, password_hash=hash_password(PASSWORD), totp_secret=secret, **scope)


def act(page: Page, form_id: str) -> None:
    """Press the submit button of one action form and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(f"#{form_id} button[type=submit]")


def test_station_works_a_new_case_and_the_shopper_rates_it(
    live_server: str,
    desktop_page: Page,
    phone_page: Page,
    session: Session,
    factory: Factory,
) -> None:
    merchant = factory.make_merchant()
    secret = pyotp.random_base32()
    station = staff(session, "station", secret, market=merchant.market, name="王站长")
    sign_in(desktop_page, live_server, station, secret)
    board = desktop_page
    expect(board.locator('[data-colour="black"] .empty')).to_be_visible()
    board.evaluate("window.kuaisuNoReload = true")

    receipt = factory.make_complaint(merchant, now=utcnow(), description="买的瓷砖有裂纹，要求退货。")
    number = receipt.complaint.case_number
    card = board.locator(f'[data-colour="black"] [data-id="{receipt.complaint.id}"]')
    expect(card).to_contain_text(number)
    expect(board.locator("#board-notice")).to_be_visible()
    expect(board.locator("#board-notice [data-count]")).to_have_text("1")
    assert board.evaluate("window.kuaisuNoReload") is True  # it arrived without a reload

    with board.expect_navigation():
        card.locator("a.num").click()
    expect(board.locator("h1")).to_contain_text(number)
    expect(board.locator("body")).to_contain_text("138****8000")
    act(board, "act-take")
    expect(board.locator("body")).to_contain_text("首接人：王站长")
    board.fill("#act-reply textarea", "您好，维权站已受理，正在联系商户。")
    act(board, "act-reply")
    board.select_option("#act-outcome select", "mediated")
    board.fill("#act-outcome input[name=recovered]", "128.50")
    act(board, "act-outcome")
    act(board, "act-close")
    expect(board.locator(".status.green")).to_be_visible()
    board.goto(f"{live_server}/office/?colour=green")
    expect(board.locator(f'[data-colour="green"] [data-id="{receipt.complaint.id}"]')).to_be_visible()

    shopper = phone_page
    shopper.goto(f"{live_server}/t/{receipt.token}")
    timeline = shopper.locator("#timeline + .timeline")
    expect(timeline).to_contain_text("负责")  # taken
    expect(timeline).to_contain_text("您好，维权站已受理，正在联系商户。")
    expect(timeline).to_contain_text("调解成功")
    expect(timeline).to_contain_text("为您挽回 128.50 元")
    shopper.check("#score-5")
    shopper.fill("#rate-comment", "处理很快，谢谢")
    with shopper.expect_navigation():
        shopper.click("#actions form button[type=submit]")
    expect(shopper.locator("#actions")).to_contain_text("感谢您的评价")
    expect(timeline).to_contain_text("您给出了 5 分")
    expect(shopper.locator("input[name=score]")).to_have_count(0)


def test_merchant_on_a_phone_sees_only_their_shop(
    live_server: str,
    phone_page: Page,
    session: Session,
    factory: Factory,
) -> None:
    mine: Merchant = factory.make_merchant(name="张记瓷砖")
    neighbour = factory.make_merchant(mine.market, name="鑫隆卫浴")
    own = [factory.make_complaint(mine, now=utcnow()).complaint.case_number for _ in range(2)]
    other = factory.make_complaint(neighbour, now=utcnow()).complaint.case_number
    sign_in(phone_page, live_server, staff(session, "merchant", merchant=mine))
    body = phone_page.locator("#board")
    for number in own:
        expect(body).to_contain_text(number)
    expect(body).not_to_contain_text(other)
    expect(body).not_to_contain_text("鑫隆卫浴")
    # One column on a narrow screen: the colours stack instead of sitting side by side.
    boxes = [phone_page.locator(f'[data-colour="{c}"]').bounding_box() for c in ("black", "red")]
    assert boxes[0] is not None and boxes[1] is not None
    assert boxes[0]["x"] == boxes[1]["x"] and boxes[1]["y"] > boxes[0]["y"]
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # nothing sticks out sideways
    phone_page.goto(f"{live_server}/office/complaints/{other}")
    expect(phone_page.locator("h1")).not_to_contain_text(other)
