"""In real Chromium: a regulator prints a market's posters in bulk, watches it, downloads the PDF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
import pypdfium2
import pytest
import zxingcpp
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.accounts import hash_password
from portal.models import Market, PosterCode, User
from tests.factories import Factory, make_user

PASSWORD = "长治市场监管 2026!"
# The job runs in its own process (kuaisu posters run-job), as in production; the page
# polls until it is done. Generous, because that process starts a fresh interpreter.
JOB_TIMEOUT_MS = 90_000


@pytest.fixture(autouse=True)
def unniced_jobs(app_config: dict[str, Any]) -> None:
    """Run the job process at normal priority: on a busy CI machine, +10 could starve it."""
    app_config["POSTER_NICENESS"] = 0


@pytest.fixture
def market(factory: Factory) -> Market:
    """A market with its market poster and five shops, one with a 40-character name."""
    market = factory.make_market(name="万博装饰市场")
    for name in ("张记瓷砖", "鑫隆卫浴", "美家地板", "恒安门窗定制", "长" * 40):
        factory.make_merchant(market, name=name)
    return market


def regulator_of(session: Session, market: Market) -> tuple[User, str]:
    """Create a regulator of the market's unit with a password and an enrolled TOTP secret."""
    secret = pyotp.random_base32()
    user = make_user(session, "regulator", unit=market.unit, name="王科长", totp_secret=secret)
    user.password_hash = hash_password(PASSWORD)
    session.commit()
    return user, secret


def sign_in(page: Page, base: str, user: User, secret: str, path: str) -> None:
    """Sign in through the real login and code pages, landing on path."""
    page.goto(f"{base}{path}")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{base}{path}")


def start_bulk_run(page: Page, market: Market, fmt: str = "pdf") -> None:
    """Choose the market, A6 and the format on the posters page and start."""
    page.select_option("#scope", f"market:{market.id}")
    page.select_option("#layout", "A6")
    page.select_option("#fmt", fmt)
    page.locator("#bulk-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/office/posters/jobs/[0-9a-f]{32}$"))


def test_regulator_prints_a_market_and_downloads_the_pdf(
    live_server: str, desktop_page: Page, session: Session, market: Market, tmp_path: Path
) -> None:
    user, secret = regulator_of(session, market)
    sign_in(desktop_page, live_server, user, secret, "/office/posters")
    start_bulk_run(desktop_page, market)

    progress = desktop_page.locator("#progress")
    expect(progress).to_contain_text("/ 6")  # n of N: the market poster and five shops
    download_link = desktop_page.locator("#download")
    expect(download_link).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(progress).to_have_text("6 / 6")

    with desktop_page.expect_download() as arrival:
        download_link.click()
    saved = tmp_path / "posters.pdf"
    arrival.value.save_as(saved)
    codes = session.scalars(
        select(PosterCode.code).where(PosterCode.revoked_at.is_(None)).order_by(PosterCode.id)
    ).all()
    document = pypdfium2.PdfDocument(saved)
    try:
        assert len(document) == 6
        first = document[0].render(scale=1.5).to_pil()
        assert [r.text for r in zxingcpp.read_barcodes(first)] == [f"https://ks.example.cn/c/{codes[0]}"]
        last = document[5].render(scale=1.5).to_pil()
        assert [r.text for r in zxingcpp.read_barcodes(last)] == [f"https://ks.example.cn/c/{codes[-1]}"]
    finally:
        document.close()


@pytest.fixture
def unwritable_bulk_dir(app_config: dict[str, Any], tmp_path: Path) -> Path:
    """Point BULK_DIR below a plain file, so the job cannot write its output."""
    blocker = tmp_path / "disk-full"
    blocker.write_text("not a folder")
    app_config["BULK_DIR"] = str(blocker / "bulk")
    return blocker


def test_failed_job_says_why_in_the_browser(
    unwritable_bulk_dir: Path,
    live_server: str,
    desktop_page: Page,
    session: Session,
    market: Market,
) -> None:
    user, secret = regulator_of(session, market)
    sign_in(desktop_page, live_server, user, secret, "/office/posters")
    start_bulk_run(desktop_page, market, fmt="zip")
    failure = desktop_page.locator("#failure")
    expect(failure).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(failure).to_contain_text("KUAISU_BULK_DIR")
    expect(desktop_page.locator("#download")).to_have_count(0)
    assert str(unwritable_bulk_dir) not in desktop_page.content()
