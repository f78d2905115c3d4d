"""Finding a case from the shopper's side: by token, or by number plus phone digits."""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.casenumbers import token_hash, tracking_token
from portal.models import Complaint, Event


def find_by_token(session: Session, token: str) -> Complaint | None:
    """Return the case whose receipt token this is."""
    if not token or len(token) > 64:
        return None
    return session.scalars(
        select(Complaint).where(Complaint.tracking_hash == token_hash(token))
    ).first()


def lookup_case(
    session: Session, case_number: str, last4: str, *, secrets: Sequence[str]
) -> str | None:
    """Return the receipt token when number and digits match; None for any kind of miss."""
    number = unicodedata.normalize("NFKC", case_number).strip().upper()
    digits = unicodedata.normalize("NFKC", last4).strip()
    complaint = session.scalars(
        select(Complaint).where(Complaint.case_number == number)
    ).first()
    # Compare even when no case matched, so a miss on either field looks the same.
    stored = complaint.phone_last4 if complaint is not None and complaint.phone_last4 else "----"
    if not hmac.compare_digest(stored.encode(), digits.encode()) or complaint is None:
        return None
    for secret in secrets:
        token = tracking_token(secret, complaint.idempotency_key)
        if token_hash(token) == complaint.tracking_hash:
            return token
    return None


def public_timeline(complaint: Complaint) -> list[Event]:
    """Return the events the shopper may see, oldest first."""
    return [event for event in complaint.events if event.public]
