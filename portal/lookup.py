"""Finding a case from the shopper's side: by token, or by number plus phone digits."""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.casenumbers import token_hash, tracking_token
from portal.models import Complaint, Event

_CASE_NUMBER = re.compile(r"KS-?(\d{8})-?(\d{1,6})")


def find_by_token(session: Session, token: str) -> Complaint | None:
    """Return the case whose receipt token this is."""
    if not token or len(token) > 64:
        return None
    # The tracking page shows the shop, the market, the photos and the timeline: one round trip each.
    return session.scalars(
        select(Complaint)
        .where(Complaint.tracking_hash == token_hash(token))
        .options(
            joinedload(Complaint.merchant),
            joinedload(Complaint.market),
            selectinload(Complaint.events),
            selectinload(Complaint.attachments),
        )
    ).first()


def normalise_case_number(typed: str) -> str:
    """Read KS20261122-0007 as typed by hand: any case, spaces, full-width, or 'KS20261122-7'."""
    text = re.sub(r"[\s\-－—_]+", "-", unicodedata.normalize("NFKC", typed).strip().upper())
    match = _CASE_NUMBER.fullmatch(text)
    if match is None:
        return text
    return f"KS{match.group(1)}-{int(match.group(2)):04d}"


def lookup_case(session: Session, case_number: str, last4: str, *, secrets: Sequence[str]) -> str | None:
    """Return the receipt token when number and digits match; None for any kind of miss."""
    number = normalise_case_number(case_number)
    digits = unicodedata.normalize("NFKC", last4).strip()
    complaint = session.scalars(select(Complaint).where(Complaint.case_number == number)).first()
    # Compare even when no case matched, so a miss on either field looks the same. A case
    # without a phone (an anonymous report) is found by its link only: no typed text matches.
    stored = complaint.phone_last4 if complaint is not None else None
    same = hmac.compare_digest((stored or "\0\0\0\0").encode(), digits.encode())
    if complaint is None or not stored or not same or not digits.isdigit():
        return None
    return receipt_token(complaint, secrets)


def receipt_token(complaint: Complaint, secrets: Sequence[str]) -> str | None:
    """Return the case's receipt token under the current or an earlier secret."""
    for secret in secrets:
        token = tracking_token(secret, complaint.idempotency_key)
        if token_hash(token) == complaint.tracking_hash:
            return token
    return None


def public_timeline(complaint: Complaint) -> list[Event]:
    """Return the events the shopper may see, oldest first."""
    return [event for event in complaint.events if event.public]
