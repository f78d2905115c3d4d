"""Reminder, urge and breach cards: their keys and moments, claimed once, written to the chain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from portal import audit, bulk
from portal.audit import ChainedEvent
from portal.case_changes import note_changed
from portal.clock import CardKind
from portal.clockstate import CARD_ORDER, Clock, card_after, card_moment
from portal.models import Complaint, Event, StageCard

# The sweep runs every minute; a card issued more than two runs after its moment was
# missed (the server was down or the timer stopped) and is marked late.
LATE_GRACE = timedelta(minutes=2)
_RANK = {kind: rank for rank, kind in enumerate(CARD_ORDER)}


@dataclass(frozen=True)
class DueCard:
    """One card of one clock whose moment has come."""

    clock: Clock
    kind: CardKind
    at: datetime

    @cached_property
    def key(self) -> str:
        """Return the card's unique key: (case, rung, stage, clock start, kind), as first asked."""
        return card_key(self.clock, self.kind)

    def late(self, now: datetime) -> bool:
        """Return whether the card goes out later than the sweep's grace allows."""
        return now - self.at > LATE_GRACE

    def sort_key(self) -> tuple[datetime, int, str]:
        """Order cards by moment; at the same moment a reminder comes before a breach."""
        return self.at, _RANK[self.kind], self.clock.stage


def card_key(clock: Clock, kind: CardKind) -> str:
    """Return the key that makes a card exactly-once, however often the sweep runs."""
    started = clock.started_at.strftime("%Y%m%dT%H%M%S%f")
    return f"{clock.complaint_id}:{clock.rung}:{clock.stage}:{started}:{kind.value}"


def due_cards(clock: Clock, now: datetime) -> list[DueCard]:
    """Return the clock's cards due by now, from its next card on, in order."""
    found: list[DueCard] = []
    if clock.next_card is None or clock.stopped_at is not None or clock.paused_since is not None:
        return found
    kind: CardKind | None = CardKind(clock.next_card)
    while kind is not None and card_moment(clock, kind) <= now:
        found.append(DueCard(clock, kind, card_moment(clock, kind)))
        kind = card_after(kind)
    return found


def claim(session: Session, cards: Sequence[DueCard], now: datetime) -> set[str]:
    """Insert the cards' rows before acting; return the keys this transaction won.

    A key that already exists was issued by another run (or a concurrent one that
    committed first), so its card is skipped: this row is what makes a card exactly-once.
    """
    if not cards:
        return set()
    rows = [
        {
            "card_key": card.key,
            "complaint_id": card.clock.complaint_id,
            "stage": card.clock.stage,
            "kind": card.kind.value,
            "due_at": card.at,
            "issued_at": now,
            "late": card.late(now),
        }
        for card in cards
    ]
    table = cast(Table, StageCard.__table__)
    return set(bulk.insert_rows(session, table, rows, unique="card_key", returning="card_key"))


@dataclass(slots=True)
class PendingEvent:
    """An event the sweep keeps for one bulk insert: Event's columns without the ORM's cost."""

    complaint_id: int
    seq: int
    kind: str
    public: bool
    actor_id: int | None
    actor_role: str
    body: str | None
    data: dict[str, Any] | None
    created_at: datetime
    prev_hash: str
    hash: str = ""

    def row(self) -> dict[str, Any]:
        """Return the column values to store."""
        return {name: getattr(self, name) for name in _EVENT_COLUMNS}


_EVENT_COLUMNS = tuple(f.name for f in fields(PendingEvent))


class ChainWriter:
    """Append events to many cases' chains in one transaction, as audit.append_event does.

    It remembers each chain's tail, so a batch costs one query instead of one per event,
    and it calls the audit listeners (the notification outbox) for every event. In bulk
    mode the events stay out of the session and write() inserts them in one statement.
    """

    def __init__(self, session: Session, salt: str, *, bulk: bool = False) -> None:
        self.session = session
        self.salt = salt
        self.bulk = bulk  # the sweep: keep rows for one insert in write()
        self._tails: dict[int, tuple[int, str]] = {}
        self._pending: list[PendingEvent] = []

    def preload(self, complaint_ids: Iterable[int]) -> None:
        """Read the last (seq, hash) of many chains in one query."""
        ids = [i for i in complaint_ids if i not in self._tails]
        if not ids:
            return
        last = (
            select(Event.complaint_id, func.max(Event.seq).label("seq"))
            .where(bulk.among(self.session, Event.complaint_id, ids))
            .group_by(Event.complaint_id)
            .subquery()
        )
        rows = self.session.execute(
            select(Event.complaint_id, Event.seq, Event.hash).join(
                last, (Event.complaint_id == last.c.complaint_id) & (Event.seq == last.c.seq)
            )
        )
        for complaint_id in ids:
            self._tails[complaint_id] = (0, audit.GENESIS)
        for complaint_id, seq, digest in rows:
            self._tails[complaint_id] = (seq, digest)

    def new_chain(self, complaint_id: int) -> None:
        """Start the chain of a case created in this transaction, without asking for its tail."""
        self._tails[complaint_id] = (0, audit.GENESIS)

    def prefetch(self, complaints: Sequence[Complaint]) -> None:
        """Let listeners read ahead for a batch (a listener may offer `prefetch(session, cases)`)."""
        for listener in audit.EVENT_LISTENERS:
            ahead = getattr(listener, "prefetch", None)
            if ahead is not None:
                ahead(self.session, complaints)

    def append(
        self,
        complaint: Complaint,
        kind: str,
        *,
        now: datetime,
        actor_role: str = "system",
        actor_id: int | None = None,
        public: bool = False,
        body: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> ChainedEvent:
        """Add one event at the end of the case's chain; the caller holds the case's row."""
        if complaint.id not in self._tails:  # asked per event: the batch is preloaded
            self.preload([complaint.id])
        seq, prev = self._tails[complaint.id]
        values: dict[str, Any] = {
            "complaint_id": complaint.id,
            "seq": seq + 1,
            "kind": kind,
            "public": public,
            "actor_id": actor_id,
            "actor_role": actor_role,
            "body": body,
            "data": data,
            "created_at": now,
            "prev_hash": prev,
        }
        event = PendingEvent(**values) if self.bulk else Event(**values)
        event.hash = audit.chain_hash(prev, event, self.salt)
        if isinstance(event, PendingEvent):
            self._pending.append(event)
        else:
            self.session.add(event)
        self._tails[complaint.id] = (event.seq, event.hash)
        # The listeners only read staff and channels; keeping our pending rows unflushed
        # lets one flush write the whole batch.
        with self.session.no_autoflush:
            for listener in audit.EVENT_LISTENERS:
                listener(self.session, complaint, event, now)
        return event

    def write(self) -> None:
        """Insert the events kept in bulk mode, in one statement, then what listeners kept."""
        bulk.insert_rows(self.session, cast(Table, Event.__table__), [e.row() for e in self._pending])
        note_changed(self.session, (e.complaint_id for e in self._pending))
        self._pending = []
        for listener in audit.EVENT_LISTENERS:
            kept = getattr(listener, "write", None)
            if kept is not None:
                kept(self.session)
