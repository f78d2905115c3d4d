"""Listing the posters a staff member may print: markets, merchants page by page, their jobs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from portal.models import Market, Merchant, PosterCode, PosterJob, RegulatorUnit

PAGE = 50


@dataclass(frozen=True)
class PosterRow:
    """One printable poster: its owner's id and name, market, and live code."""

    id: int
    name: str
    market: str | None
    code: str


def market_rows(session: Session, where: ColumnElement[bool]) -> list[PosterRow]:
    """Return the market posters in scope, by name."""
    rows = session.execute(
        select(Market.id, Market.name, PosterCode.code)
        .join(PosterCode, (PosterCode.market_id == Market.id) & PosterCode.revoked_at.is_(None))
        .where(where)
        .order_by(Market.name, Market.id)
    )
    return [PosterRow(id_, name, name, code) for id_, name, code in rows]


def merchant_rows(
    session: Session, where: ColumnElement[bool], *, query: str = "", after: int = 0, limit: int = PAGE
) -> list[PosterRow]:
    """Return a page of merchants in scope (by id, after `after`), optionally by name or code."""
    stmt = (
        select(Merchant.id, Merchant.name, Market.name, PosterCode.code)
        .join(PosterCode, (PosterCode.merchant_id == Merchant.id) & PosterCode.revoked_at.is_(None))
        .outerjoin(Market, Market.id == Merchant.market_id)
        .where(where, Merchant.id > after)
        .order_by(Merchant.id)
        .limit(limit)
    )
    text = query.strip()[:40]
    if text:
        stmt = stmt.where(
            Merchant.name.contains(text, autoescape=True)
            | (Merchant.credit_code == text.upper())
            | (PosterCode.code == text.upper())
        )
    return [PosterRow(*row) for row in session.execute(stmt)]


def unit_choices(session: Session, unit_ids: list[int] | None) -> list[tuple[int, str]]:
    """Return (id, name) of the regulator units given, or of every unit when None."""
    stmt = select(RegulatorUnit.id, RegulatorUnit.name).order_by(RegulatorUnit.id)
    if unit_ids is not None:
        stmt = stmt.where(RegulatorUnit.id.in_(unit_ids))
    return [(id_, name) for id_, name in session.execute(stmt)]


def recent_jobs(session: Session, user_id: int, limit: int = 10) -> list[PosterJob]:
    """Return the user's latest bulk jobs, newest first."""
    return list(
        session.scalars(
            select(PosterJob)
            .where(PosterJob.requested_by_id == user_id)
            .order_by(PosterJob.id.desc())
            .limit(limit)
        )
    )
