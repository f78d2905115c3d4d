"""Believable demo data for a market district in Changzhi, loaded idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.creditcode import check_character
from portal.db import utcnow
from portal.directory import poster_listing
from portal.models import Market, Merchant, RegulatorUnit
from portal.register import add_merchant, issue_poster_code

UNITS = (
    ("长治市市场监督管理局", "city", "0355-12315"),
    ("潞州区市场监督管理局", "district", "0355-2023315"),
    ("英雄南路市场监管所", "office", "0355-2035315"),
)
MARKETS = (
    ("万博装饰市场", "长治市潞州区太行东街88号", "万博装饰市场消费维权服务站", "0355-2021234", None),
    ("紫金街农贸市场", "长治市潞州区紫金西街16号", "紫金街农贸市场维权站", "0355-2037788",
     {"onsite_minutes": 30}),
)
# (name, category, market index or None, street address, phone, signed)
MERCHANTS = (
    ("张记瓷砖", "quality", 0, "万博装饰市场A区12号", "13935501201", True),
    ("鑫隆卫浴", "quality", 0, "万博装饰市场A区27号", "13935501202", True),
    ("美家地板", "price", 0, "万博装饰市场B区03号", "13935501203", True),
    ("恒安门窗定制", "general", 0, "万博装饰市场B区18号", "13935501204", False),
    ("老王水果店", "food", 1, "紫金街农贸市场1排5号", "13935501205", True),
    ("鲜多多海鲜批发", "food", 1, "紫金街农贸市场2排11号", "13935501206", True),
    ("康宁大药房紫金店", "drug", 1, "紫金街农贸市场东门", "13935501207", True),
    ("惠民粮油", "food", 1, "紫金街农贸市场3排2号", "13935501208", False),
    ("华联超市英雄南路店", "retail", None, "长治市潞州区英雄南路201号", "13935501209", True),
    ("安康医疗器械", "device", None, "长治市潞州区英雄南路56号", "13935501210", True),
    ("上党汽车美容", "car", None, "长治市潞州区英雄南路318号", "13935501211", False),
    ("太行山居酒店", "general", None, "长治市潞州区英雄南路9号", "13935501212", True),
)


def demo_credit_code(index: int) -> str:
    """Return a valid, recognisably fake credit code for demo merchant `index`."""
    body = f"91140402MA0{index:06d}"
    return body + check_character(body)


@dataclass
class DemoSummary:
    """What the demo load created and what already existed."""

    created: list[str] = field(default_factory=list)
    units: list[RegulatorUnit] = field(default_factory=list)
    markets: list[Market] = field(default_factory=list)


def _units(session: Session, summary: DemoSummary) -> RegulatorUnit:
    """Create the city → district → office chain unless it exists; return the office."""
    parent: RegulatorUnit | None = None
    for name, level, phone in UNITS:
        unit = session.scalars(select(RegulatorUnit).where(RegulatorUnit.name == name)).first()
        if unit is None:
            unit = RegulatorUnit(name=name, level=level, phone=phone,
                                 parent_id=parent.id if parent else None, created_at=utcnow())
            session.add(unit)
            session.flush()
            summary.created.append(name)
        summary.units.append(unit)
        parent = unit
    assert parent is not None
    return parent


def load_demo(session: Session, base_url: str) -> DemoSummary:
    """Load the demo district; running it again changes nothing."""
    summary = DemoSummary()
    office = _units(session, summary)
    now = utcnow()
    for name, address, station, phone, policy in MARKETS:
        market = session.scalars(select(Market).where(Market.name == name)).first()
        if market is None:
            market = Market(name=name, address=address, unit_id=office.id, station_name=station,
                            station_phone=phone, policy=policy, created_at=now,
                            canned_replies=["您好，维权站已收到您的投诉，工作人员正在赶来。",
                                            "您好，我们已联系商户核实，请保持电话畅通。"])
            session.add(market)
            session.flush()
            issue_poster_code(session, now=now, market=market)
            summary.created.append(name)
        summary.markets.append(market)
    for index, (name, category, market_index, address, phone, signed) in enumerate(MERCHANTS):
        code = demo_credit_code(index + 1)
        if session.scalars(select(Merchant.id).where(Merchant.credit_code == code)).first():
            continue
        market = summary.markets[market_index] if market_index is not None else None
        add_merchant(session, name=name, address=address, phone=phone, category=category,
                     credit_code=code, unit_id=office.id, market=market,
                     signed_commitment=signed, now=now)
        summary.created.append(name)
    return summary


def print_demo(session: Session, summary: DemoSummary, base_url: str) -> None:
    """Print the poster URLs (and, once accounts exist, the demo logins)."""
    click.echo(f"demo data: {len(summary.created)} records created"
               + (" (already loaded)" if not summary.created else ""))
    click.echo("posters:")
    for row in poster_listing(session, base_url):
        click.echo(f"  {row['poster_url']}  {row['name']}")
