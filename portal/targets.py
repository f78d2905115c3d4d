"""Reading posters: which merchant or market a scanned code stands for."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.intake import Target
from portal.models import Market, Merchant, PosterCode


@dataclass(frozen=True)
class PosterView:
    """A live poster code and whom it names."""

    poster: PosterCode
    merchant: Merchant | None
    market: Market | None

    @property
    def is_market(self) -> bool:
        """Say whether the shopper must first choose the shop."""
        return self.merchant is None

    @property
    def unit_id(self) -> int:
        """Return the regulator unit responsible for this poster."""
        if self.merchant is not None:
            return self.merchant.unit_id
        assert self.market is not None
        return self.market.unit_id


def find_poster(session: Session, code: str) -> tuple[PosterView | None, PosterCode | None]:
    """Return (live poster, None), or (None, revoked poster) or (None, None) if unknown."""
    if not code.isalnum() or len(code) > 16:
        return None, None
    # One query for the poster, its merchant and market: this runs on every scan.
    poster = session.scalars(
        select(PosterCode)
        .where(PosterCode.code == code.upper())
        .options(joinedload(PosterCode.merchant).joinedload(Merchant.market),
                 joinedload(PosterCode.market))
    ).first()
    if poster is None:
        return None, None
    if poster.revoked_at is not None:
        return None, poster
    merchant = poster.merchant
    market = merchant.market if merchant is not None else poster.market
    return PosterView(poster, merchant, market), None


def shops_in_market(session: Session, market_id: int, query: str = "") -> list[Merchant]:
    """List a market's shops for the picker, optionally narrowed by a typed word."""
    stmt = select(Merchant).where(Merchant.market_id == market_id).order_by(Merchant.name)
    if query.strip():
        stmt = stmt.where(Merchant.name.contains(query.strip()[:40], autoescape=True))
    return list(session.scalars(stmt.limit(200)))


def chosen_merchant(session: Session, view: PosterView, shop_id: int | None) -> Merchant | None:
    """Return the poster's merchant, or the chosen shop when it belongs to the poster's market."""
    if view.merchant is not None or not shop_id:
        return view.merchant
    chosen = session.get(Merchant, shop_id)
    if chosen is not None and view.market is not None and chosen.market_id == view.market.id:
        return chosen
    return None


def target_for(
    session: Session, view: PosterView, shop_id: int | None
) -> tuple[Target, Merchant | None]:
    """Resolve the complaint's target; a market poster takes the chosen shop of that market."""
    merchant = chosen_merchant(session, view, shop_id)
    unit_id = merchant.unit_id if merchant is not None else view.unit_id
    target = Target(unit_id, merchant, view.market, view.poster.id)
    return target, merchant
