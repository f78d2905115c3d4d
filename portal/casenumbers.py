"""Human-readable case numbers and unguessable tracking tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.i18n import SHANGHAI
from portal.models import CaseCounter


def next_case_number(session: Session, now: datetime) -> str:
    """Return KS<yyyymmdd>-<n>, numbered per Shanghai day, race-free on both databases."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    upsert = insert(CaseCounter).values(day=day, last=1)
    stmt = upsert.on_conflict_do_update(
        index_elements=[CaseCounter.day], set_={"last": CaseCounter.last + 1}
    ).returning(CaseCounter.last)
    number: int = session.execute(stmt).scalar_one()
    return f"KS{day}-{number:04d}"


def tracking_token(secret: str, idempotency_key: str) -> str:
    """Derive the receipt token from the form's key: 192 bits, no phone, same on retry."""
    mac = hmac.new(secret.encode(), f"track:{idempotency_key}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")


def token_hash(token: str) -> str:
    """Return what the database keeps of a token, so a leaked table opens no case."""
    return hashlib.sha256(token.encode()).hexdigest()


