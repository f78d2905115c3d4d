"""Who complaints are about: regulator units, markets, merchants and their poster codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


class RegulatorUnit(Base):
    """A market-supervision unit: city bureau, district bureau or office, as a tree."""

    __tablename__ = "regulator_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))  # city | district | office
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regulator_unit.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    parent: Mapped[RegulatorUnit | None] = relationship(remote_side="RegulatorUnit.id")

    __table_args__ = (
        CheckConstraint("level IN ('city', 'district', 'office')", name="level"),
    )


class Market(Base):
    """A market or mall, with its on-site consumer-rights station."""

    __tablename__ = "market"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("regulator_unit.id"), index=True)
    station_name: Mapped[str] = mapped_column(String(120))
    station_phone: Mapped[str] = mapped_column(String(32))
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    canned_replies: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    unit: Mapped[RegulatorUnit] = relationship()


class Merchant(Base):
    """A shop, stall, hotel or scenic spot that a poster names."""

    __tablename__ = "merchant"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(24))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("market.id"), index=True)
    # Denormalised from the market (or set directly for a standalone merchant) so that
    # the regulator's scope is one indexed column, not a join up the tree.
    unit_id: Mapped[int] = mapped_column(ForeignKey("regulator_unit.id"), index=True)
    signed_commitment: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    market: Mapped[Market | None] = relationship()
    unit: Mapped[RegulatorUnit] = relationship()


class PosterCode(Base):
    """The unguessable code printed on a poster, for one merchant or a whole market."""

    __tablename__ = "poster_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchant.id"), index=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("market.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(200))

    merchant: Mapped[Merchant | None] = relationship()
    market: Mapped[Market | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "(merchant_id IS NULL) <> (market_id IS NULL)", name="one_owner"
        ),
    )
