"""Believable demo data for a market district in Changzhi, loaded idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.creditcode import check_character
from portal.db import utcnow
from portal.directory import poster_listing
from portal.models import Market, Merchant, RegulatorUnit, User
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
# One account per role; the password is printed by `kuaisu demo`, so demo data only.
DEMO_PASSWORD = "kuaisu-demo-2026"  # noqa: S105  (printed on purpose for the demo)
# (username, role, display name, name of the merchant / market / unit it belongs to)
DEMO_ACCOUNTS = (
    ("zhangji", "merchant", "张记瓷砖 店员", "张记瓷砖"),
    ("wanbo", "station", "万博维权站 值班员", "万博装饰市场"),
    ("yingxiong", "regulator", "英雄南路所 监管员", "英雄南路市场监管所"),
    ("admin", "admin", "系统管理员", None),
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
    summary.created.extend(_demo_accounts(session, now))
    return summary


def _demo_scope(session: Session, role: str, place: str | None) -> dict[str, int | None]:
    """Return the merchant, market or unit id a demo account belongs to."""
    if role == "merchant":
        return {"merchant_id": session.scalar(select(Merchant.id).where(Merchant.name == place))}
    if role == "station":
        return {"market_id": session.scalar(select(Market.id).where(Market.name == place))}
    if role == "regulator":
        return {"unit_id": session.scalar(select(RegulatorUnit.id).where(RegulatorUnit.name == place))}
    return {}


def _demo_accounts(session: Session, now: datetime) -> list[str]:
    """Open the demo accounts that do not exist yet; station and up get a two-factor key."""
    from merchants.accounts import NewAccount, create_user
    from merchants.twofactor import issue_secret, needs_totp

    created = []
    for username, role, display_name, place in DEMO_ACCOUNTS:
        if session.scalars(select(User.id).where(User.username == username)).first():
            continue
        scope = _demo_scope(session, role, place)
        user = create_user(session, NewAccount(
            username=username, role=role, password=DEMO_PASSWORD, display_name=display_name,
            merchant_id=scope.get("merchant_id"), market_id=scope.get("market_id"),
            unit_id=scope.get("unit_id"),
        ), creator=None, now=now)
        if needs_totp(user):
            issue_secret(session, user)
        created.append(username)
    return created


def _print_logins(session: Session, base_url: str) -> None:
    """Print each demo login, with the two-factor key an authenticator app needs."""
    from merchants.twofactor import otpauth_uri

    click.echo(f"logins at {base_url.rstrip('/')}/office/login "
               f"(password {DEMO_PASSWORD} unless changed):")
    for username, role, _display, place in DEMO_ACCOUNTS:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            continue
        click.echo(f"  {username:10} {role:9} {place or 'everything'}")
        if user.totp_secret:
            click.echo(f"             two-factor key {user.totp_secret}")
            click.echo(f"             {otpauth_uri(username, user.totp_secret)}")


def print_demo(session: Session, summary: DemoSummary, base_url: str) -> None:
    """Print the poster URLs and the demo logins."""
    click.echo(f"demo data: {len(summary.created)} records created"
               + (" (already loaded)" if not summary.created else ""))
    click.echo("posters:")
    for row in poster_listing(session, base_url):
        click.echo(f"  {row['poster_url']}  {row['name']}")
    _print_logins(session, base_url)
