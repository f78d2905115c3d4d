"""In real Chromium: a regulator opens the dashboard, narrows it to a market, follows a figure."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from merchants.accounts import hash_password
from portal.db import utcnow
from portal.models import Complaint, User
from tests.factories import Factory, make_user

PASSWORD = "潞州区监管 2026!"


@pytest.fixture
def district(factory: Factory, session: Session) -> dict[str, object]:
    """A district with two offices, each with a market, a shop and recent cases."""
    now = utcnow()
    district = factory.make_unit("潞州区市场监督管理局", level="district")
    east = factory.make_market(factory.make_unit("东街市场监管所", parent=district), name="东街市场")
    west = factory.make_market(factory.make_unit("西街市场监管所", parent=district), name="西街市场")
    east_shop = factory.make_merchant(east, name="东街瓷砖")
    west_shop = factory.make_merchant(west, name="西街水果")
    east_cases = [factory.make_complaint(east_shop, now=now - timedelta(days=d)).complaint for d in (1, 2)]
    west_case = factory.make_complaint(west_shop, now=now - timedelta(days=1)).complaint
    secret = pyotp.random_base32()
    user = make_user(session, "regulator", unit=district, name="区局李科长", totp_secret=secret)
    user.password_hash = hash_password(PASSWORD)
    session.commit()
    return {"user": user, "secret": secret, "east": east, "east_cases": east_cases, "west_case": west_case}


def _sign_in(page: Page, base: str, user: User, secret: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{base}{path}")


@pytest.mark.browser
def test_regulator_narrows_to_a_market_and_opens_the_cases(
    live_server: str, desktop_page: Page, district: dict[str, object]
) -> None:
    user, secret = district["user"], district["secret"]
    assert isinstance(user, User) and isinstance(secret, str)
    page = desktop_page
    _sign_in(page, live_server, user, secret, "/office/insight")
    expect(page.locator("h1")).to_have_text("统计分析")
    expect(page.locator("#top-shops")).to_contain_text("西街水果")
    expect(page.locator("svg").first).to_be_visible()

    page.select_option("#f-market", label="东街市场")
    page.locator(".filterbar button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"market=\d+"))
    expect(page.locator("#top-shops")).to_contain_text("东街瓷砖")
    expect(page.locator("#top-shops")).not_to_contain_text("西街水果")
    expect(page.locator('a.fig[data-metric="received"] .v')).to_have_text("2")

    page.locator('a.fig[data-metric="received"]').click()
    expect(page).to_have_url(re.compile(r"/office/insight/cases\?.*metric=received"))
    east_cases = district["east_cases"]
    west_case = district["west_case"]
    assert isinstance(east_cases, list) and isinstance(west_case, Complaint)
    table = page.locator("table.caselist")
    for case in east_cases:
        expect(table).to_contain_text(case.case_number)
    expect(table).not_to_contain_text(west_case.case_number)

    page.get_by_role("link", name=east_cases[0].case_number).click()
    expect(page).to_have_url(f"{live_server}/office/complaints/{east_cases[0].case_number}")


@pytest.mark.browser
def test_the_dashboard_fits_a_phone(live_server: str, phone_page: Page, district: dict[str, object]) -> None:
    user, secret = district["user"], district["secret"]
    assert isinstance(user, User) and isinstance(secret, str)
    _sign_in(phone_page, live_server, user, secret, "/office/insight")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 1
    box = phone_page.locator("figure.chart svg").first.bounding_box()
    assert box is not None and box["width"] <= 360
