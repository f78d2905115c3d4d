"""What posters print, read from the register, and revoking a poster code."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Complaint, PosterCode
from portal.posters import (
    AlreadyRevokedError,
    BulkScope,
    count_posters,
    iter_posters,
    market_poster,
    merchant_poster,
    revoke_poster,
    units_beneath,
)
from tests.conftest import NOW
from tests.factories import Factory, complaint_form

BASE = "https://ks.example.cn"


def test_merchant_poster_carries_live_code_station_and_market_promise(
    session: Session, factory: Factory
) -> None:
    market = factory.make_market(name="紫金街农贸市场", policy={"onsite_minutes": 30, "feedback_minutes": 90})
    merchant = factory.make_merchant(market, name="老王水果店")
    code = factory.poster_of(merchant).code

    info = merchant_poster(session, merchant, BASE)

    assert info.url == f"{BASE}/c/{code}" and info.poster_code == code
    assert (info.merchant_name, info.market_name) == ("老王水果店", "紫金街农贸市场")
    assert (info.station_name, info.station_phone) == ("紫金街农贸市场维权站", "0355-2021234")
    # The market's policy wins over the defaults; 90 minutes is promised as 2 hours, not 1.
    assert (info.respond_minutes, info.onsite_minutes, info.feedback_hours) == (45, 30, 2)
    assert info.signed_commitment is True


def test_standalone_merchant_points_to_its_regulator_unit(session: Session, factory: Factory) -> None:
    unit = factory.make_unit(phone="0355-2035315", policy={"respond_minutes": 30})
    hotel = factory.make_merchant(unit=unit, name="太行山居酒店")
    info = merchant_poster(session, hotel, BASE)
    assert info.market_name is None
    assert (info.station_name, info.station_phone) == ("英雄南路市场监管所", "0355-2035315")
    assert info.respond_minutes == 30


def test_market_poster_names_no_shop(session: Session, factory: Factory) -> None:
    market = factory.make_market()
    info = market_poster(session, market, BASE)
    assert info.merchant_name is None and info.market_name == "万博装饰市场"
    assert info.poster_code == factory.poster_of(market=market).code


def test_bulk_scopes_cover_market_subtree_and_everything(session: Session, factory: Factory) -> None:
    district = factory.make_unit("潞州区市场监管局", level="district")
    office = factory.make_unit("英雄南路所", parent=district)
    elsewhere = factory.make_unit("别处所")
    market = factory.make_market(office, name="万博装饰市场")
    shops = [factory.make_merchant(market, name=f"店{i}") for i in range(5)]
    hotel = factory.make_merchant(unit=office, name="酒店")
    far = factory.make_merchant(factory.make_market(elsewhere, name="远方市场"), name="远店")

    by_market = list(iter_posters(session, BulkScope("market", (market.id,)), BASE, batch=2))
    assert [p.merchant_name for p in by_market] == [None, *(s.name for s in shops)]
    assert count_posters(session, BulkScope("market", (market.id,))) == 6

    subtree = BulkScope("unit", units_beneath(session, district.id))
    assert set(subtree.ids) == {district.id, office.id}
    names = [p.merchant_name or p.market_name for p in iter_posters(session, subtree, BASE, batch=3)]
    # Market posters first, then shops grouped by market, shops without a market last.
    assert names == ["万博装饰市场", *(s.name for s in shops), hotel.name]
    assert count_posters(session, subtree) == len(names)

    everything = list(iter_posters(session, BulkScope("all"), BASE))
    assert far.name in {p.merchant_name for p in everything}
    assert count_posters(session, BulkScope("all")) == len(everything) == 9


def test_scope_round_trips_through_json() -> None:
    scope = BulkScope("unit", (3, 4))
    assert BulkScope.from_json(scope.as_json()) == scope
    with pytest.raises(ValueError):
        BulkScope.from_json({"kind": "planet", "ids": []})


def test_revoked_code_leaves_the_bulk_run_and_the_new_one_prints(session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    old = factory.poster_of(merchant)
    fresh = revoke_poster(session, old, reason="海报被复制滥用", now=NOW)
    session.commit()
    codes = {p.poster_code for p in iter_posters(session, BulkScope("all"), BASE)}
    assert fresh.code in codes and old.code not in codes
    assert merchant_poster(session, merchant, BASE).poster_code == fresh.code
    with pytest.raises(AlreadyRevokedError):
        revoke_poster(session, old, reason="again", now=NOW)
    live = session.scalars(
        select(PosterCode).where(PosterCode.merchant_id == merchant.id, PosterCode.revoked_at.is_(None))
    ).all()
    assert [p.code for p in live] == [fresh.code]


def test_revoked_page_points_to_station_and_12315_and_old_cases_keep_their_shop(
    client: FlaskClient, session: Session, factory: Factory
) -> None:
    merchant = factory.make_merchant(name="张记瓷砖")
    old = factory.poster_of(merchant)
    case = factory.make_complaint(merchant).complaint
    fresh = revoke_poster(session, old, reason="copied", now=NOW)
    session.commit()

    gone = client.get(f"/c/{old.code}", headers={"Accept-Language": "zh-CN"})
    assert gone.status_code == 404
    page = gone.text
    assert "此海报已失效" in page and "二维码已停用" in page  # "no longer valid"
    assert "万博装饰市场维权站" in page and "0355-2021234" in page and "12315" in page
    assert client.post(f"/c/{old.code}", data=complaint_form()).status_code == 404

    assert client.get(f"/c/{fresh.code}").status_code == 200
    sent = client.post(f"/c/{fresh.code}", data=complaint_form())
    assert sent.status_code == 303
    session.expire_all()
    assert session.get(Complaint, case.id).merchant_id == merchant.id  # type: ignore[union-attr]
    newest = session.scalars(select(Complaint).order_by(Complaint.id.desc())).first()
    assert newest is not None and newest.merchant_id == merchant.id
    assert newest.poster_code_id == fresh.id
