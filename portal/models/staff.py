"""Back-office accounts: merchant staff, station staff, regulators and admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime

ROLES = ("merchant", "station", "regulator", "admin")


class User(Base):
    """A staff account scoped to a merchant, a market, a regulator unit, or everything."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchant.id"), index=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("market.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("regulator_unit.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(120))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on a password change or a disable; sessions carrying an older value end.
    session_epoch: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Flask-Login's user interface; a disabled account is never signed in.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Return whether the account may sign in."""
        return bool(self.active)

    def get_id(self) -> str:
        """Return the id Flask-Login keeps in the session."""
        return str(self.id)

    __table_args__ = (
        CheckConstraint(
            "role IN ('merchant', 'station', 'regulator', 'admin')", name="role"
        ),
        CheckConstraint(
            "(role <> 'merchant' OR merchant_id IS NOT NULL) AND "
            "(role <> 'station' OR market_id IS NOT NULL) AND "
            "(role <> 'regulator' OR unit_id IS NOT NULL)",
            name="scope",
        ),
    )
