"""The append-only timeline: every change to a case is an event in a hash chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Complaint, Event

GENESIS = "0" * 64
# json.dumps builds an encoder per call when given options; the chain's encoding, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class ChainedEvent(Protocol):
    """What the chain hashes and the listeners read: a stored Event, or one the sweep inserts in bulk."""

    complaint_id: int
    seq: int
    kind: str
    public: bool
    actor_id: int | None
    actor_role: str
    body: str | None
    data: dict[str, Any] | None
    created_at: datetime


EventListener = Callable[[Session, Complaint, ChainedEvent, datetime], None]
# Called inside the caller's transaction after each event (e.g. the notification outbox),
# so whatever they add commits or rolls back together with the event.
EVENT_LISTENERS: list[EventListener] = []


def _digest(text: str | None, salt: str) -> str | None:
    """Return the salted hash that stands for personal text inside the chain."""
    if text is None:
        return None
    return hmac.new(salt.encode(), text.encode(), hashlib.sha256).hexdigest()


def canonical(event: ChainedEvent, salt: str) -> bytes:
    """Encode the event for hashing; the body (may hold personal data) only as a salted hash."""
    record = {
        "complaint_id": event.complaint_id,
        "seq": event.seq,
        "kind": event.kind,
        "public": bool(event.public),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "body": _digest(event.body, salt),
        "data": event.data,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
    }
    return _CANONICAL.encode(record).encode()


def chain_hash(prev_hash: str, event: ChainedEvent, salt: str) -> str:
    """Return the hash linking this event to the previous one of the same case."""
    return hashlib.sha256(prev_hash.encode() + canonical(event, salt)).hexdigest()


def append_event(
    session: Session,
    complaint: Complaint,
    kind: str,
    *,
    now: datetime,
    salt: str,
    actor_role: str,
    actor_id: int | None = None,
    public: bool = False,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Add one event at the end of the case's chain; the caller holds the case's row."""
    last = session.execute(
        select(Event.seq, Event.hash)
        .where(Event.complaint_id == complaint.id)
        .order_by(Event.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    event = Event(
        complaint_id=complaint.id,
        seq=seq,
        kind=kind,
        public=public,
        actor_id=actor_id,
        actor_role=actor_role,
        body=body,
        data=data,
        created_at=now,
        prev_hash=prev,
    )
    event.hash = chain_hash(prev, event, salt)
    session.add(event)
    session.flush()
    for listener in EVENT_LISTENERS:
        listener(session, complaint, event, now)
    return event


@dataclass(frozen=True)
class ChainBreak:
    """The first event whose stored hash does not match its content or predecessor."""

    complaint_id: int
    event_id: int
    seq: int
    reason: str


def verify_chains(session: Session, salt: str, batch: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk every case's chain in order; return events checked and the first break."""
    checked = 0
    current: int | None = None
    prev = GENESIS
    expected_seq = 1
    rows = session.execute(
        select(Event).order_by(Event.complaint_id, Event.seq).execution_options(yield_per=batch)
    ).scalars()
    for event in rows:
        if event.complaint_id != current:
            current, prev, expected_seq = event.complaint_id, GENESIS, 1
        reason = None
        if event.seq != expected_seq:
            reason = f"sequence gap: expected {expected_seq}"
        elif event.prev_hash != prev:
            reason = "previous hash does not match"
        elif event.hash != chain_hash(prev, event, salt):
            reason = "content does not match its hash"
        if reason:
            return checked, ChainBreak(event.complaint_id, event.id, event.seq, reason)
        checked += 1
        prev, expected_seq = event.hash, expected_seq + 1
    return checked, None
