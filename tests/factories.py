"""Factory helpers that build believable records with explicit times."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.creditcode import check_character
from portal.intake import Receipt, Submission, Target, submit
from portal.models import Market, Merchant, PosterCode, RegulatorUnit, User
from portal.register import add_merchant, issue_poster_code
from portal.storage import LocalStore

_counter = itertools.count(1)


@dataclass
class Factory:
    """Make records on a session; every call commits so requests see them."""

    session: Session
    now: datetime
    salt: str = "test-secret-key-0123456789abcdef"

    def make_unit(self, name: str = "英雄南路市场监管所", level: str = "office",
                  parent: RegulatorUnit | None = None, **extra: Any) -> RegulatorUnit:
        unit = RegulatorUnit(name=name, level=level, parent_id=parent.id if parent else None,
                             created_at=self.now, **extra)
        self.session.add(unit)
        self.session.commit()
        return unit

    def make_market(self, unit: RegulatorUnit | None = None, name: str = "万博装饰市场",
                    **extra: Any) -> Market:
        unit = unit or self.make_unit()
        market = Market(name=name, address="太行东街88号", unit_id=unit.id,
                        station_name=f"{name}维权站", station_phone="0355-2021234",
                        created_at=self.now, **extra)
        self.session.add(market)
        self.session.flush()
        issue_poster_code(self.session, now=self.now, market=market)
        self.session.commit()
        return market

    def make_merchant(self, market: Market | None = None, name: str = "张记瓷砖",
                      unit: RegulatorUnit | None = None, category: str = "quality",
                      **extra: Any) -> Merchant:
        if market is None and unit is None:
            market = self.make_market()
        body = f"91140402MA1{next(_counter):06d}"
        merchant = add_merchant(
            self.session, name=name, address="A区12号", phone="13935501201", category=category,
            credit_code=body + check_character(body), unit_id=(unit or market.unit).id,  # type: ignore[union-attr]
            market=market, signed_commitment=True, now=self.now, **extra,
        )
        self.session.commit()
        return merchant

    def poster_of(self, merchant: Merchant | None = None, market: Market | None = None) -> PosterCode:
        from sqlalchemy import select

        stmt = select(PosterCode).where(PosterCode.revoked_at.is_(None))
        stmt = stmt.where(PosterCode.merchant_id == merchant.id) if merchant else stmt.where(
            PosterCode.market_id == market.id  # type: ignore[union-attr]
        )
        return self.session.scalars(stmt).one()

    def make_complaint(self, merchant: Merchant | None = None, *, now: datetime | None = None,
                       kind: str = "complaint", phone: str | None = "13800138000",
                       description: str = "瓷砖有裂纹，商家拒绝退换。", **extra: Any) -> Receipt:
        merchant = merchant or self.make_merchant()
        sub = Submission(kind=kind, category=merchant.category, description=description,
                         idempotency_key=secrets.token_urlsafe(24), phone=phone, **extra)
        target = Target(merchant.unit_id, merchant, merchant.market, self.poster_of(merchant).id)
        receipt = submit(self.session, sub, target, photos=[], store=LocalStore("/nonexistent"),
                         now=now or self.now, secret=self.salt, salt=self.salt)
        self.session.commit()
        return receipt


def complaint_form(idem: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Return a valid shopper form submission; override any field by name."""
    data: dict[str, Any] = {
        "kind": "complaint", "category": "quality", "description": "瓷砖有裂纹，商家拒绝退换。",
        "amount": "128.50", "wish": "refund", "phone": "13800138000", "name": "李女士",
        "consent": "y", "idem": idem or secrets.token_urlsafe(24),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    """Return an encoded image with a left-red, right-blue pattern (so rotation is visible)."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def make_user(session: Session, role: str, *, merchant: Merchant | None = None,
              market: Market | None = None, unit: RegulatorUnit | None = None,
              name: str | None = None, now: datetime | None = None, **extra: Any) -> User:
    """Create and commit a staff account of a role, scoped to a merchant, market or unit."""
    from datetime import UTC

    number = next(_counter)
    user = User(
        username=f"{role}{number}", display_name=name or f"{role}-{number}",
        password_hash=extra.pop("password_hash", "not-a-real-hash"), role=role,
        merchant_id=merchant.id if merchant else None, market_id=market.id if market else None,
        unit_id=unit.id if unit else None, created_at=now or datetime(2026, 11, 1, tzinfo=UTC),
        **extra,
    )
    session.add(user)
    session.commit()
    return user
