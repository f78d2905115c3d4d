"""Signing in to the back office in real Chromium: a merchant on a phone, a station with TOTP."""

from __future__ import annotations

import pyotp
from playwright.sync_api import Page

from merchants.accounts import NewAccount, create_user
from tests.conftest import NOW
from tests.factories import Factory

PASSWORD = "counter-password-1"


def test_merchant_signs_in_on_a_phone_and_out_again(
    live_server: str, phone_page: Page, factory: Factory
) -> None:
    merchant = factory.make_merchant()
    create_user(
        factory.session,
        NewAccount("zhangji", "merchant", PASSWORD, display_name="张记店员", merchant_id=merchant.id),
        creator=None,
        now=NOW,
    )
    factory.session.commit()
    phone_page.goto(f"{live_server}/office/")
    assert phone_page.url.startswith(f"{live_server}/office/login?next=")
    assert phone_page.locator("h1").inner_text() == "登录后台"
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # no sideways scrolling on a phone
    phone_page.get_by_label("用户名").fill("zhangji")
    phone_page.get_by_label("密码").fill(PASSWORD)
    phone_page.get_by_role("button", name="登录").click()
    phone_page.wait_for_url(f"{live_server}/office/")
    assert "张记店员" in phone_page.locator("header").inner_text()
    phone_page.get_by_role("button", name="退出登录").click()
    phone_page.wait_for_url(f"{live_server}/office/login")
    assert "您已退出登录" in phone_page.content()


def test_station_enrols_an_authenticator_and_signs_in(
    live_server: str, desktop_page: Page, factory: Factory
) -> None:
    market = factory.make_market()
    create_user(
        factory.session, NewAccount("wanbo", "station", PASSWORD, market_id=market.id), creator=None, now=NOW
    )
    factory.session.commit()
    page = desktop_page
    page.goto(f"{live_server}/office/login")
    page.get_by_label("用户名").fill("wanbo")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/office/login/code")
    assert page.locator(".qr svg").is_visible()
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("身份验证器应用显示的 6 位验证码").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="继续").click()
    page.wait_for_url(f"{live_server}/office/")
    page.goto(f"{live_server}/office/staff")
    assert page.locator("h1").inner_text() == "账号管理"
