"""GET /c/<code>: the form names the shop, the station and the market's public promise."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import Factory

FIELD_NAMES = (
    "kind",
    "category",
    "description",
    "amount",
    "wish",
    "on_site",
    "phone",
    "name",
    "photos",
    "consent",
    "idem",
    "csrf_token",
)


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Render the form as production does, with its CSRF token."""
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def _text(client: FlaskClient, url: str, **kwargs: object) -> str:
    response = client.get(url, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_form_shows_merchant_market_station_and_promise(client: FlaskClient, factory: Factory) -> None:
    merchant = factory.make_merchant(name="张记瓷砖")
    page = _text(client, f"/c/{factory.poster_of(merchant).code}")
    assert "张记瓷砖" in page
    assert "万博装饰市场" in page
    assert "万博装饰市场维权站" in page
    assert 'href="tel:0355-2021234"' in page
    assert "我们的公开承诺" in page
    # Changzhi double commitment: reply 45 min, on site 90 min, result within 24 h.
    assert "45 分钟" in page and "90 分钟" in page and "24 小时" in page


def test_promise_comes_from_the_market_policy(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market(name="紫金街农贸市场", policy={"onsite_minutes": 30})
    merchant = factory.make_merchant(market=market, name="老王水果店", category="food")
    page = _text(client, f"/c/{factory.poster_of(merchant).code}?lang=en")
    assert "within 30 minutes" in page
    assert "within 90 minutes" not in page
    assert "within 45 minutes" in page


def test_promise_comes_from_the_regulator_unit(client: FlaskClient, factory: Factory) -> None:
    unit = factory.make_unit(policy={"respond_minutes": 20})
    merchant = factory.make_merchant(unit=unit, name="太行山居酒店", category="general")
    page = _text(client, f"/c/{factory.poster_of(merchant).code}?lang=en")
    assert "A reply within 20 minutes" in page


def test_standalone_merchant_has_no_market_line(client: FlaskClient, factory: Factory) -> None:
    unit = factory.make_unit()
    merchant = factory.make_merchant(unit=unit, name="太行山居酒店", category="general")
    page = _text(client, f"/c/{factory.poster_of(merchant).code}")
    assert "太行山居酒店" in page
    assert "维权站" not in page


def test_every_field_is_there_with_its_name(client: FlaskClient, factory: Factory) -> None:
    page = _text(client, f"/c/{factory.poster_of(factory.make_merchant()).code}")
    for name in FIELD_NAMES:
        assert f'name="{name}"' in page, name
    assert 'enctype="multipart/form-data"' in page
    # Every visible control has a real <label for=...>.
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page)
    hidden = set(re.findall(r'<input[^>]*type="hidden"[^>]*id="([^"]+)"', page))
    hidden |= set(re.findall(r'<input[^>]*id="([^"]+)"[^>]*type="hidden"', page))
    for control in set(ids) - hidden:
        assert f'for="{control}"' in page, control


def test_category_is_preselected_from_the_merchant(client: FlaskClient, factory: Factory) -> None:
    merchant = factory.make_merchant(category="food", name="鲜多多海鲜批发")
    page = _text(client, f"/c/{factory.poster_of(merchant).code}")
    assert re.search(r'<option selected value="food">|<option value="food" selected>', page)
    assert page.count("selected") == 1 + page.count('option selected value=""')


def test_each_form_gets_a_fresh_idempotency_key(client: FlaskClient, factory: Factory) -> None:
    url = f"/c/{factory.poster_of(factory.make_merchant()).code}"
    keys = {
        re.search(r'name="idem" type="hidden" value="([^"]+)"', _text(client, url)).group(1)  # type: ignore[union-attr]
        for _ in range(3)
    }
    assert len(keys) == 3
    assert all(len(key) >= 32 for key in keys)


def test_market_poster_first_asks_for_the_shop(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market()
    factory.make_merchant(market=market, name="张记瓷砖")
    factory.make_merchant(market=market, name="鑫隆卫浴")
    code = factory.poster_of(market=market).code
    page = _text(client, f"/c/{code}")
    assert "张记瓷砖" in page and "鑫隆卫浴" in page
    assert 'name="description"' not in page
    assert '<form method="get"' in page and 'name="q"' in page


def test_shop_picker_searches_without_javascript(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market()
    tiles = factory.make_merchant(market=market, name="张记瓷砖")
    factory.make_merchant(market=market, name="鑫隆卫浴")
    code = factory.poster_of(market=market).code
    page = _text(client, f"/c/{code}?q=瓷砖")
    assert "张记瓷砖" in page and "鑫隆卫浴" not in page
    assert f'href="?shop={tiles.id}"' in page
    assert 'value="瓷砖"' in page
    assert "<script" not in page
    nothing = _text(client, f"/c/{code}?q=%25")  # a LIKE wildcard matches nothing literal
    assert "张记瓷砖" not in nothing and "鑫隆卫浴" not in nothing


def test_choosing_a_shop_shows_its_form(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market()
    tiles = factory.make_merchant(market=market, name="张记瓷砖", category="price")
    code = factory.poster_of(market=market).code
    page = _text(client, f"/c/{code}?shop={tiles.id}")
    assert 'name="description"' in page
    assert "<h1>" in page and "张记瓷砖" in page.split("<h1>")[1].split("</h1>")[0]
    assert f'name="shop" value="{tiles.id}"' in page
    assert re.search(r'<option selected value="price">|<option value="price" selected>', page)


def test_a_shop_of_another_market_is_ignored(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market(name="万博装饰市场")
    other = factory.make_market(name="紫金街农贸市场")
    stranger = factory.make_merchant(market=other, name="老王水果店")
    page = _text(client, f"/c/{factory.poster_of(market=market).code}?shop={stranger.id}")
    assert "老王水果店" not in page
    assert "万博装饰市场" in page.split("<h1>")[1].split("</h1>")[0]


def test_the_market_itself_can_be_chosen(client: FlaskClient, factory: Factory) -> None:
    market = factory.make_market(name="万博装饰市场")
    page = _text(client, f"/c/{factory.poster_of(market=market).code}?shop=0")
    assert 'name="description"' in page
    assert "万博装饰市场" in page.split("<h1>")[1].split("</h1>")[0]


def test_first_response_fits_one_tcp_window(client: FlaskClient, factory: Factory) -> None:
    name = "长治市潞州区英雄南路万博装饰建材市场A区十二号张记瓷砖卫浴总经销店有限责任公司旗舰店"[:40]
    assert len(name) == 40
    merchant = factory.make_merchant(name=name)
    for url in (f"/c/{factory.poster_of(merchant).code}", f"/c/{factory.poster_of(merchant).code}?lang=en"):
        response = client.get(url)
        assert name in response.get_data(as_text=True)
        # HTML with its inline CSS in one initial congestion window (10 x 1460 bytes ~ 14 KB).
        assert len(response.data) <= 14 * 1024, len(response.data)
        assert b"<link" not in response.data and b"@font-face" not in response.data


def test_repeated_scans_are_served_from_the_page_cache(
    app: Any, client: FlaskClient, factory: Factory
) -> None:
    from sqlalchemy import event

    from portal.db import get_engine

    url = f"/c/{factory.poster_of(factory.make_merchant()).code}"
    first = _text(client, url)
    with app.app_context():
        engine = get_engine()
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    other = app.test_client()  # another shopper: a session and a token of their own
    second = _text(other, url)
    event.remove(engine, "before_cursor_execute", record)
    assert statements == []
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    idem = re.compile(r'name="idem" type="hidden" value="([^"]+)"')
    assert token.search(first).group(1) != token.search(second).group(1)  # type: ignore[union-attr]
    assert idem.search(first).group(1) != idem.search(second).group(1)  # type: ignore[union-attr]
    assert token.sub("", first).replace(idem.search(first).group(1), "") == token.sub(  # type: ignore[union-attr]
        "", second
    ).replace(idem.search(second).group(1), "")  # type: ignore[union-attr]
    assert "csrf-" not in second and "idem-" not in second


def test_a_cached_form_still_posts(app: Any, factory: Factory) -> None:
    from tests.factories import complaint_form

    url = f"/c/{factory.poster_of(factory.make_merchant()).code}"
    _text(app.test_client(), url)  # fills the cache
    shopper = app.test_client()
    page = _text(shopper, url)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    idem = re.search(r'name="idem" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = shopper.post(url, data={**complaint_form(idem=idem), "csrf_token": token})
    assert response.status_code == 303


def test_revoked_poster_is_refused_even_while_its_form_is_cached(
    app: Any, client: FlaskClient, factory: Factory
) -> None:
    from portal.register import revoke_and_reissue
    from tests.conftest import NOW
    from tests.factories import complaint_form

    poster = factory.poster_of(factory.make_merchant())
    url = f"/c/{poster.code}"
    page = _text(client, url)
    revoke_and_reissue(factory.session, poster, reason="海报被复制滥用", now=NOW)
    factory.session.commit()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(url, data={**complaint_form(), "csrf_token": token})
    assert response.status_code == 404
    assert "12315" in response.get_data(as_text=True)


def test_without_the_page_cache_a_revoked_poster_is_gone_at_once(
    app_config: dict[str, Any], factory: Factory
) -> None:
    from portal import create_app
    from portal.register import revoke_and_reissue
    from tests.conftest import NOW

    app = create_app({**app_config, "FORM_CACHE_SECONDS": 0})
    client = app.test_client()
    poster = factory.poster_of(factory.make_merchant())
    assert client.get(f"/c/{poster.code}").status_code == 200
    revoke_and_reissue(factory.session, poster, reason="海报被复制滥用", now=NOW)
    factory.session.commit()
    assert client.get(f"/c/{poster.code}").status_code == 404
    app.extensions["kuaisu.engine"].dispose()


def test_odd_query_strings_are_not_cached(app: Any, client: FlaskClient, factory: Factory) -> None:
    url = f"/c/{factory.poster_of(factory.make_merchant()).code}"
    for n in range(5):
        _text(client, f"{url}?utm_source=wechat&n={n}")
    _text(client, url)
    assert len(app.extensions["kuaisu.form_pages"]) == 1
