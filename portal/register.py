"""Registering units, markets and merchants, and issuing or revoking poster codes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.categories import CATEGORIES
from portal.creditcode import normalise_credit_code
from portal.models import Market, Merchant, PosterCode

# No 0/O, 1/I/L: a code read aloud over the phone to the station must not be misheard.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31**10 ≈ 2**49 possibilities


class RegisterError(ValueError):
    """A registration was refused; the message says why."""


def new_poster_code() -> str:
    """Return a fresh, unguessable poster code from the OS's CSPRNG."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def issue_poster_code(
    session: Session, *, now: datetime, merchant: Merchant | None = None,
    market: Market | None = None,
) -> PosterCode:
    """Create a live poster code for a merchant or for a whole market."""
    if (merchant is None) == (market is None):
        raise RegisterError("a poster code belongs to exactly one merchant or market")
    poster = PosterCode(
        code=new_poster_code(), merchant_id=merchant.id if merchant else None,
        market_id=market.id if market else None, created_at=now,
    )
    session.add(poster)
    session.flush()
    return poster


def revoke_and_reissue(session: Session, poster: PosterCode, *, reason: str, now: datetime) -> PosterCode:
    """Withdraw a misused code and issue its owner a new one; old cases keep their merchant."""
    if not reason.strip():
        raise RegisterError("a reason is required")
    revoked = session.execute(
        update(PosterCode).where(PosterCode.id == poster.id, PosterCode.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason.strip()[:200])
    )
    if revoked.rowcount != 1:  # type: ignore[attr-defined]
        # Someone else revoked it first and already issued the replacement.
        raise RegisterError(f"poster code {poster.code} was already revoked")
    return issue_poster_code(session, now=now, merchant=poster.merchant, market=poster.market)


def add_merchant(
    session: Session, *, name: str, address: str, phone: str, category: str, credit_code: str,
    unit_id: int, market: Market | None, signed_commitment: bool, now: datetime,
) -> Merchant:
    """Register a merchant with a checked credit code and give it a poster code."""
    if category not in CATEGORIES:
        raise RegisterError(f"unknown category {category!r}")
    code = normalise_credit_code(credit_code)
    if session.scalars(select(Merchant.id).where(Merchant.credit_code == code)).first():
        raise RegisterError(f"credit code {code} is already registered")
    merchant = Merchant(
        name=name.strip(), address=address.strip(), phone=phone.strip(), category=category,
        credit_code=code, market_id=market.id if market else None,
        unit_id=market.unit_id if market else unit_id, signed_commitment=signed_commitment,
        created_at=now,
    )
    session.add(merchant)
    session.flush()
    issue_poster_code(session, now=now, merchant=merchant)
    return merchant
