"""Simplified Chinese by default, English on request; the catalogue really renders."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.i18n import TRANSLATIONS
from tests.factories import Factory


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request choose its own locale, as in production."""
    return detached_session


def _form(factory: Factory) -> str:
    return f"/c/{factory.poster_of(factory.make_merchant()).code}"


def test_catalogue_directory_is_zh_hans_cn() -> None:
    assert (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").exists()
    assert (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").exists()


def test_chinese_without_any_header(app: Flask, factory: Factory) -> None:
    page = app.test_client().get(_form(factory)).get_data(as_text=True)
    assert "我们的公开承诺" in page and '<html lang="zh-CN">' in page
    assert "Our public promise" not in page


def test_chinese_for_zh_cn_browsers(app: Flask, factory: Factory) -> None:
    url = _form(factory)
    for header in ("zh-CN,zh;q=0.9", "zh", "zh-Hans-CN", "zh-TW,zh;q=0.8", "fr-FR,fr;q=0.9"):
        page = app.test_client().get(url, headers={"Accept-Language": header}).get_data(as_text=True)
        assert "我们的公开承诺" in page, header


def test_english_on_request(app: Flask, factory: Factory) -> None:
    url = _form(factory)
    asked = app.test_client().get(url + "?lang=en").get_data(as_text=True)
    assert "Our public promise" in asked and '<html lang="en">' in asked
    browser = app.test_client().get(url, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Our public promise" in browser.get_data(as_text=True)
    forced = app.test_client().get(url + "?lang=zh", headers={"Accept-Language": "en"})
    assert "我们的公开承诺" in forced.get_data(as_text=True)


def test_a_chosen_language_sticks_for_the_next_page(client: FlaskClient, factory: Factory) -> None:
    url = _form(factory)
    client.get("/?lang=en")
    assert "Our public promise" in client.get(url).get_data(as_text=True)
    client.get("/?lang=zh")
    assert "我们的公开承诺" in client.get(url).get_data(as_text=True)


def test_language_link_keeps_the_chosen_shop(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market()
    shop = factory.make_merchant(market=market)
    code = factory.poster_of(market=market).code
    page = client.get(f"/c/{code}?shop={shop.id}").get_data(as_text=True)
    assert f'href="/c/{code}?shop={shop.id}&amp;lang=en"' in page


def test_shop_categories_are_translated(client: FlaskClient, factory: Factory) -> None:
    page = client.get(_form(factory)).get_data(as_text=True)
    for chinese in ("食品", "药品", "医疗器械", "产品质量", "一般消费纠纷"):
        assert chinese in page
