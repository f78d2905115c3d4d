"""What a poster says, read from the register: one merchant, one market, or a whole area."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session

from portal.clock import Policy
from portal.models import Market, Merchant, PosterCode, RegulatorUnit
from portal.policy import policy_for
from portal.register import revoke_and_reissue
from qr.codes import poster_url
from qr.layout import PosterInfo

BATCH = 500
# Merchants print grouped by market; standalone merchants (no market) come last.
_LAST = 2**31 - 1


class NoLiveCodeError(LookupError):
    """The merchant or market has no live poster code to print."""


class AlreadyRevokedError(ValueError):
    """The poster code was revoked before; its owner already has a newer one."""


@dataclass(frozen=True)
class BulkScope:
    """Which posters a bulk run prints: one market, a unit with its subtree, or all."""

    kind: Literal["market", "unit", "all"]
    ids: tuple[int, ...] = ()  # the market id, or the unit and every unit beneath it

    def as_json(self) -> dict[str, object]:
        """Return the scope as stored on a poster job."""
        return {"kind": self.kind, "ids": list(self.ids)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> BulkScope:
        """Read a scope stored on a poster job."""
        kind = data.get("kind")
        ids = data.get("ids") or []
        if kind not in ("market", "unit", "all") or not isinstance(ids, list):
            raise ValueError(f"bad poster scope {data!r}")
        return cls(kind, tuple(int(i) for i in ids))  # type: ignore[arg-type]


def units_beneath(session: Session, unit_id: int) -> tuple[int, ...]:
    """Return the unit's id and the ids of every unit beneath it."""
    found, frontier = [unit_id], [unit_id]
    while frontier:
        frontier = list(
            session.scalars(select(RegulatorUnit.id).where(RegulatorUnit.parent_id.in_(frontier)))
        )
        found.extend(frontier)
    return tuple(found)


def _live_code(owner: ColumnElement[bool]) -> Select[str]:
    """Return the query for the newest live poster code of one owner."""
    return (
        select(PosterCode.code)
        .where(owner, PosterCode.revoked_at.is_(None))
        .order_by(PosterCode.id.desc())
        .limit(1)
    )


def _promise(policy: Policy, template: PosterInfo) -> PosterInfo:
    """Return the poster with the double-commitment times (双承诺) of the policy."""
    return replace(
        template,
        respond_minutes=policy.respond_minutes,
        onsite_minutes=policy.onsite_minutes,
        # The promise is printed in hours; a part-hour rounds up, never promising more.
        feedback_hours=-(-policy.feedback_minutes // 60),
    )


def _contact(session: Session, market: Market | None, unit_id: int) -> tuple[str | None, str | None]:
    """Return the station's name and phone, or the regulator unit's for a standalone merchant."""
    if market is not None:
        return market.station_name, market.station_phone
    unit = session.get(RegulatorUnit, unit_id)
    return (unit.name, unit.phone) if unit is not None else (None, None)


def merchant_poster(session: Session, merchant: Merchant, base_url: str) -> PosterInfo:
    """Return what the merchant's poster prints: live code, market, station, promise."""
    code = session.scalars(_live_code(PosterCode.merchant_id == merchant.id)).first()
    if code is None:
        raise NoLiveCodeError(f"merchant {merchant.id} has no live poster code")
    station, phone = _contact(session, merchant.market, merchant.unit_id)
    policy = policy_for(session, unit_id=merchant.unit_id, market=merchant.market)
    return _promise(
        policy,
        PosterInfo(
            url=poster_url(base_url, code),
            poster_code=code,
            merchant_name=merchant.name,
            market_name=merchant.market.name if merchant.market else None,
            station_name=station,
            station_phone=phone,
            signed_commitment=merchant.signed_commitment,
        ),
    )


def market_poster(session: Session, market: Market, base_url: str) -> PosterInfo:
    """Return what a market-wide poster prints: scan, then choose the shop."""
    code = session.scalars(_live_code(PosterCode.market_id == market.id)).first()
    if code is None:
        raise NoLiveCodeError(f"market {market.id} has no live poster code")
    policy = policy_for(session, unit_id=market.unit_id, market=market)
    return _promise(
        policy,
        PosterInfo(
            url=poster_url(base_url, code),
            poster_code=code,
            merchant_name=None,
            market_name=market.name,
            station_name=market.station_name,
            station_phone=market.station_phone,
        ),
    )


def _markets_where(scope: BulkScope) -> ColumnElement[bool]:
    """Return the WHERE clause for the markets a scope covers."""
    if scope.kind == "market":
        return Market.id.in_(scope.ids)
    if scope.kind == "unit":
        return Market.unit_id.in_(scope.ids)
    return Market.id.is_not(None)


def _merchants_where(scope: BulkScope) -> ColumnElement[bool]:
    """Return the WHERE clause for the merchants a scope covers."""
    if scope.kind == "market":
        return Merchant.market_id.in_(scope.ids)
    if scope.kind == "unit":
        return Merchant.unit_id.in_(scope.ids)
    return Merchant.id.is_not(None)


def _live_merchants(scope: BulkScope) -> Select[int, str, bool, str, int | None, int]:
    """Return merchants in scope joined to their live code, as plain columns."""
    return (
        select(
            Merchant.id,
            Merchant.name,
            Merchant.signed_commitment,
            PosterCode.code,
            Merchant.market_id,
            Merchant.unit_id,
        )
        .join(PosterCode, (PosterCode.merchant_id == Merchant.id) & PosterCode.revoked_at.is_(None))
        .where(_merchants_where(scope))
    )


def count_posters(session: Session, scope: BulkScope) -> int:
    """Return how many posters a bulk run over the scope prints."""
    markets = session.scalar(
        select(func.count())
        .select_from(Market)
        .join(PosterCode, (PosterCode.market_id == Market.id) & PosterCode.revoked_at.is_(None))
        .where(_markets_where(scope))
    )
    merchants = session.scalar(select(func.count()).select_from(_live_merchants(scope).subquery()))
    return int(markets or 0) + int(merchants or 0)


def iter_posters(
    session: Session, scope: BulkScope, base_url: str, batch: int = BATCH
) -> Iterator[PosterInfo]:
    """Yield the market posters, then each merchant's by market, reading in batches.

    The session must be the caller's own: each batch ends its transaction.
    """
    headings: dict[tuple[int | None, int], PosterInfo] = {}

    def heading(market_id: int | None, unit_id: int) -> PosterInfo:
        # One policy and contact lookup per market (or unit), not per merchant.
        key = (market_id, unit_id)
        if key not in headings:
            market = session.get(Market, market_id) if market_id is not None else None
            station, phone = _contact(session, market, unit_id)
            headings[key] = _promise(
                policy_for(session, unit_id=unit_id, market=market),
                PosterInfo(
                    url="",
                    poster_code="",
                    merchant_name=None,
                    market_name=market.name if market else None,
                    station_name=station,
                    station_phone=phone,
                ),
            )
        return headings[key]

    markets = (
        select(Market)
        .join(PosterCode, (PosterCode.market_id == Market.id) & PosterCode.revoked_at.is_(None))
        .where(_markets_where(scope))
        .order_by(Market.id)
    )
    for market in list(session.scalars(markets)):
        yield market_poster(session, market, base_url)
    market_key = func.coalesce(Merchant.market_id, _LAST)
    after: tuple[int, int] = (-1, 0)
    while True:
        rows = session.execute(
            _live_merchants(scope)
            .add_columns(market_key)
            .where(tuple_(market_key, Merchant.id) > tuple_(*after))
            .order_by(market_key, Merchant.id)
            .limit(batch)
        ).all()
        # End the read transaction between batches: a long run must not pin SQLite's WAL
        # (or PostgreSQL's oldest snapshot) while shoppers write.
        session.rollback()
        if not rows:
            return
        for _id, name, signed, code, market_id, unit_id, _key in rows:
            yield replace(
                heading(market_id, unit_id),
                url=poster_url(base_url, code),
                poster_code=code,
                merchant_name=name,
                signed_commitment=signed,
            )
        after = (rows[-1][6], rows[-1][0])


def revoke_poster(session: Session, poster: PosterCode, *, reason: str, now: datetime) -> PosterCode:
    """Withdraw a misused poster code and return its owner's new one."""
    locked = session.scalars(select(PosterCode).where(PosterCode.id == poster.id).with_for_update()).one()
    if locked.revoked_at is not None:
        raise AlreadyRevokedError(f"poster code {locked.code} was already revoked")
    return revoke_and_reissue(session, locked, reason=reason, now=now)
