"""Reading the register of merchants and markets with their live poster codes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Market, Merchant, PosterCode


def poster_url(base_url: str, code: str) -> str:
    """Return the address a poster's QR code encodes."""
    return f"{base_url.rstrip('/')}/c/{code}"


def live_codes(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """Return the live poster code per merchant id and per market id."""
    by_merchant: dict[int, str] = {}
    by_market: dict[int, str] = {}
    rows = session.execute(
        select(PosterCode.code, PosterCode.merchant_id, PosterCode.market_id)
        .where(PosterCode.revoked_at.is_(None))
        .order_by(PosterCode.id)
    )
    for code, merchant_id, market_id in rows:
        if merchant_id is not None:
            by_merchant[merchant_id] = code
        elif market_id is not None:
            by_market[market_id] = code
    return by_merchant, by_market


def poster_listing(session: Session, base_url: str) -> list[dict[str, Any]]:
    """Return one record per merchant and per market poster, in the documented format."""
    by_merchant, by_market = live_codes(session)
    rows: list[dict[str, Any]] = []
    for market in session.scalars(select(Market).order_by(Market.id)):
        code = by_market.get(market.id)
        rows.append({
            "kind": "market", "id": market.id, "name": market.name, "category": None,
            "market_id": market.id, "market": market.name, "unit_id": market.unit_id,
            "poster_code": code, "poster_url": poster_url(base_url, code) if code else None,
        })
    merchants = session.scalars(select(Merchant).order_by(Merchant.id))
    for merchant in merchants:
        code = by_merchant.get(merchant.id)
        rows.append({
            "kind": "merchant", "id": merchant.id, "name": merchant.name,
            "category": merchant.category, "market_id": merchant.market_id,
            "market": merchant.market.name if merchant.market else None,
            "unit_id": merchant.unit_id, "poster_code": code,
            "poster_url": poster_url(base_url, code) if code else None,
        })
    return rows
