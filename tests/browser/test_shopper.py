"""A shopper on a phone in real Chromium: complain with a photo, get the receipt, follow the case."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import PHONE
from tests.factories import Factory, image_bytes

pytestmark = pytest.mark.browser
DESCRIPTION = "买的瓷砖有裂纹，商家拒绝退换，态度很差。"


@pytest.fixture
def shop_url(live_server: str, factory: Factory) -> str:
    """Return the form address of a tile shop in a market."""
    merchant = factory.make_merchant(name="张记瓷砖")
    return f"{live_server}/c/{factory.poster_of(merchant).code}"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """Write a phone-camera-like JPEG to upload."""
    path = tmp_path / "瓷砖裂纹.jpg"
    path.write_bytes(image_bytes("JPEG", (1600, 1200), quality=90))
    return path


def _context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(15000)
    yield context
    context.close()


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    """A phone with JavaScript switched off."""
    for context in _context(browser, java_script_enabled=False, **PHONE):
        yield context.new_page()


@pytest.fixture
def narrow_page(browser: Browser) -> Iterator[Page]:
    """The narrowest phone we support: 320 CSS pixels."""
    for context in _context(browser, viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True):
        yield context.new_page()


def _fill_complaint(page: Page, photo: Path | None) -> None:
    page.fill("#description", DESCRIPTION)
    page.fill("#amount", "１２８.５")
    page.select_option("#wish", "refund")
    page.check("#on_site")
    page.fill("#phone", "138 0013 8000")
    page.fill("#name", "李女士")
    if photo is not None:
        page.set_input_files("#photos", str(photo))
    page.check("#consent")


def _submit_and_follow(page: Page, shop_url: str, photo: Path | None) -> str:
    """Send a complaint, check the receipt, open the tracking page; return the case number."""
    page.goto(shop_url)
    assert "我们的公开承诺" in page.content()
    _fill_complaint(page, photo)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/t/[A-Za-z0-9_-]+\?new=1$"))
    number = page.inner_text(".big").strip()
    assert re.fullmatch(r"KS\d{8}-\d{4}", number)
    receipt = page.content()
    assert "请保存此链接" in receipt and "新投诉，等待受理" in receipt
    assert "13800138000" not in page.url
    tracking = page.url.split("?")[0]
    page.goto(tracking)
    assert number in page.inner_text("h1")
    assert "您提交了投诉" in page.inner_text("#timeline + ol")
    return number


def test_complaint_with_photo_to_receipt_and_tracking(phone_page: Page, shop_url: str, photo: Path) -> None:
    _submit_and_follow(phone_page, shop_url, photo)
    link = phone_page.locator("a[href*='/photos/']").first
    response = phone_page.request.get(link.evaluate("a => a.href"))
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in response.body()


def test_the_same_without_javascript(no_js_page: Page, shop_url: str, photo: Path) -> None:
    number = _submit_and_follow(no_js_page, shop_url, photo)
    assert no_js_page.locator("a[href*='/photos/']").count() == 1
    # Add information from the tracking page, still without JavaScript.
    no_js_page.fill("#message", "补充：商家电话打不通。")
    no_js_page.click("form[action*='/info'] button[type=submit]")
    assert "补充：商家电话打不通。" in no_js_page.inner_text("#timeline + ol")
    # Find the case again by number and the last four digits.
    no_js_page.goto(shop_url.split("/c/")[0] + "/track")
    no_js_page.fill("#case_number", number.lower())
    no_js_page.fill("#last4", "8000")
    no_js_page.click("button[type=submit]")
    no_js_page.wait_for_url(re.compile(r"/t/[A-Za-z0-9_-]+$"))
    assert number in no_js_page.inner_text("h1")


def test_validation_error_keeps_the_input(phone_page: Page, shop_url: str) -> None:
    phone_page.goto(shop_url)
    phone_page.evaluate("document.querySelector('form[method=post]').noValidate = true")
    phone_page.fill("#description", "太短")
    phone_page.fill("#amount", "128")
    phone_page.fill("#phone", "0355-2021234")
    phone_page.fill("#name", "李女士")
    phone_page.select_option("#wish", "exchange")
    phone_page.check("#on_site")
    phone_page.check("#consent")
    response_status: list[int] = []
    phone_page.on(
        "response", lambda r: response_status.append(r.status) if r.request.method == "POST" else None
    )
    phone_page.click("button[type=submit]")
    phone_page.wait_for_selector(".errors")
    assert response_status == [400]
    assert phone_page.input_value("#description") == "太短"
    assert phone_page.input_value("#amount") == "128"
    assert phone_page.input_value("#phone") == "0355-2021234"
    assert phone_page.input_value("#name") == "李女士"
    assert phone_page.input_value("#wish") == "exchange"
    assert phone_page.is_checked("#on_site") and phone_page.is_checked("#consent")
    assert "请填写 10 到 2000 个字" in phone_page.content()


LAYOUT = """() => {
  const out = {scrollWidth: document.documentElement.scrollWidth, small: [], unlabelled: [],
               tinyText: [], bodyFont: parseFloat(getComputedStyle(document.body).fontSize)};
  const visible = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  for (const el of document.querySelectorAll('input, select, textarea, button, .btn')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if (el.getBoundingClientRect().height < 44) out.small.push(el.outerHTML.slice(0, 80));
    if (el.matches('input, select, textarea')) {
      const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label');
      if (!labelled) out.unlabelled.push(el.outerHTML.slice(0, 80));
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !visible(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 18) out.tinyText.push(node.textContent.trim().slice(0, 40));
  }
  return out;
}"""


def _check_layout(page: Page, width: int = 320) -> None:
    found = page.evaluate(LAYOUT)
    assert found["scrollWidth"] <= width, found
    assert found["bodyFont"] >= 18
    assert found["small"] == [], found["small"]
    assert found["unlabelled"] == [], found["unlabelled"]
    assert found["tinyText"] == [], found["tinyText"]


def test_pages_fit_a_320px_phone(
    narrow_page: Page, shop_url: str, factory: Factory, live_server: str
) -> None:
    long_name = factory.make_merchant(
        name="长治市潞州区英雄南路万博装饰建材市场A区十二号张记瓷砖卫浴总经销店"
    )
    narrow_page.goto(f"{live_server}/c/{factory.poster_of(long_name).code}")
    _check_layout(narrow_page)
    narrow_page.goto(shop_url)
    _check_layout(narrow_page)
    narrow_page.evaluate("document.querySelector('form[method=post]').noValidate = true")
    narrow_page.click("button[type=submit]")
    narrow_page.wait_for_selector(".errors")
    _check_layout(narrow_page)
    _fill_complaint(narrow_page, None)
    narrow_page.click("button[type=submit]")
    narrow_page.wait_for_url(re.compile(r"\?new=1$"))
    _check_layout(narrow_page)
    narrow_page.goto(narrow_page.url.split("?")[0])
    _check_layout(narrow_page)
    factory.session.rollback()  # drop the read snapshot before the factory writes again
    market = factory.make_market(name="紫金街农贸市场")
    factory.make_merchant(market=market, name="鲜多多海鲜批发")
    narrow_page.goto(f"{live_server}/c/{factory.poster_of(market=market).code}")
    _check_layout(narrow_page)
    for path in ("/", "/track", "/c/UNKNOWN000"):
        narrow_page.goto(live_server + path)
        _check_layout(narrow_page)


def _serious(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']]})"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations(phone_page: Page, shop_url: str, photo: Path) -> None:
    phone_page.goto(shop_url)
    assert _serious(phone_page) == []
    phone_page.evaluate("document.querySelector('form[method=post]').noValidate = true")
    phone_page.click("button[type=submit]")
    phone_page.wait_for_selector(".errors")
    assert _serious(phone_page) == []
    _fill_complaint(phone_page, photo)
    phone_page.click("button[type=submit]")
    phone_page.wait_for_url(re.compile(r"\?new=1$"))
    assert _serious(phone_page) == []  # the receipt
    phone_page.goto(phone_page.url.split("?")[0])
    assert _serious(phone_page) == []  # the tracking page
    phone_page.goto(shop_url.split("/c/")[0] + "/track")
    assert _serious(phone_page) == []


def test_javascript_shrinks_big_photos_before_upload(
    phone_page: Page, shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from PIL import Image

    import portal.photo_intake

    noise = Image.merge("RGB", [Image.effect_noise((3000, 2000), 60) for _ in range(3)])
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=92)
    big = tmp_path / "big.jpg"
    big.write_bytes(out.getvalue())
    received: list[tuple[int, tuple[int, int]]] = []
    real = portal.photo_intake.sanitise

    def spy(raw: bytes, **limits: int) -> Any:
        received.append((len(raw), Image.open(io.BytesIO(raw)).size))
        return real(raw, **limits)

    monkeypatch.setattr(portal.photo_intake, "sanitise", spy)
    _submit_and_follow(phone_page, shop_url, big)
    assert len(received) == 1
    size, dimensions = received[0]
    assert size < big.stat().st_size // 2, (size, big.stat().st_size)
    assert max(dimensions) == 2048
    assert phone_page.locator("a[href*='/photos/']").count() == 1


def test_script_is_served_from_our_origin(phone_page: Page, live_server: str) -> None:
    response = phone_page.request.get(f"{live_server}/js/shrink.js")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "createImageBitmap" in response.text()
