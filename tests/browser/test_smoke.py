"""The shopper's form opens in real Chromium and speaks Chinese."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.factories import Factory


def test_form_renders_in_chinese(live_server: str, phone_page: Page, factory: Factory) -> None:
    merchant = factory.make_merchant()
    code = factory.poster_of(merchant).code
    phone_page.goto(f"{live_server}/c/{code}")
    assert "我们的公开承诺" in phone_page.content()
    assert phone_page.locator("h1").inner_text().endswith("张记瓷砖")
