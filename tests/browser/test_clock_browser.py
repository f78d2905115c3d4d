"""A shopper watches the clock in real Chromium: the countdown, then the climb up the ladder."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import NOW
from tests.factories import Factory
from tests.portal.sweeping import sweep_at

MIN = timedelta(minutes=1)


def test_the_shopper_sees_the_countdown_then_the_case_move_up(
    app: Flask, live_server: str, phone_page: Page, factory: Factory
) -> None:
    receipt = factory.make_complaint()
    url = f"{live_server}/t/{receipt.token}"
    app.config["KUAISU_FIXED_NOW"] = NOW + 22 * MIN
    phone_page.goto(url)
    clock = phone_page.locator("p.clock")
    expect(clock).to_have_text("商户需在 14:45 前回复您（还剩 23 分钟）")

    # The merchant lets the 45 minutes pass; the sweep runs a minute late.
    sweep_at(app, NOW + 46 * MIN)
    app.config["KUAISU_FIXED_NOW"] = NOW + 50 * MIN
    phone_page.reload()
    expect(clock).to_contain_text("已超时，已于 14:46 转交市场维权站")
    expect(clock).to_contain_text("市场维权站需在 15:31 前回复您（还剩 41 分钟）")
    expect(phone_page.locator("ol.timeline")).to_contain_text("处理超时，案件已转交万博装饰市场维权站。")

    # The station lets its clock run out too: the office needs the shopper's name and address.
    sweep_at(app, NOW + 95 * MIN)
    app.config["KUAISU_FIXED_NOW"] = NOW + 100 * MIN
    phone_page.reload()
    expect(clock).to_contain_text("已超时，已于 15:35 转交市场监管所")
    form = phone_page.locator("#identity form")
    form.get_by_label("您的姓名").fill("李秀英")
    form.get_by_label("您的地址").fill("长治市潞州区太行东街88号3单元")
    form.get_by_role("button", name="提交给市场监管所").click()
    expect(phone_page.locator("#identity")).to_have_count(0)
    # Order 121: 7 working days from the complete complaint (Mon 23 Nov → Wed 2 Dec).
    expect(clock).to_contain_text("市场监管所需在 12-02 23:59 前决定是否受理")
    expect(phone_page.locator("ol.timeline")).to_contain_text("您已向市场监管所提供姓名和地址。")
