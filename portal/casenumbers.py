"""Human-readable case numbers and unguessable tracking tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.i18n import SHANGHAI

# One statement for SQLite and PostgreSQL: an upsert that hands back the day's new number,
# race-free because the row is locked by the writing transaction. Plain SQL, built once: it
# runs while the write lock is held.
_NEXT_NUMBER = text(
    "INSERT INTO case_counter (day, last) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = case_counter.last + 1 RETURNING last"
)


def next_case_number(session: Session, now: datetime) -> str:
    """Return KS<yyyymmdd>-<n>, numbered per Shanghai day, race-free on both databases."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    number: int = session.connection().execute(_NEXT_NUMBER, {"day": day}).scalar_one()
    return f"KS{day}-{number:04d}"


def tracking_token(secret: str, idempotency_key: str) -> str:
    """Derive the receipt token from the form's key: 192 bits, no phone, same on retry."""
    mac = hmac.new(secret.encode(), f"track:{idempotency_key}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")


def token_hash(token: str) -> str:
    """Return what the database keeps of a token, so a leaked table opens no case."""
    return hashlib.sha256(token.encode()).hexdigest()
