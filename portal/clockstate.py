"""A clock's card moments: reminder at half time, urge before the end, breach just after it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from portal.clock import CardKind, Policy, Stage, stage_deadline
from portal.workdays import WorkCalendar

CARD_ORDER = (CardKind.REMINDER, CardKind.URGE, CardKind.BREACH)
_TICK = timedelta(microseconds=1)


class Clock(Protocol):
    """What the rules read and write of a clock, stored (StageClock) or plain (ClockState)."""

    complaint_id: int
    stage: str
    rung: str
    started_at: datetime
    reminder_at: datetime
    urge_at: datetime
    due_at: datetime
    next_card_at: datetime | None
    next_card: str | None
    paused_since: datetime | None
    paused_seconds: int
    extended: bool
    fallback_used: bool
    stopped_at: datetime | None
    stop_reason: str | None


@dataclass(eq=False, slots=True)
class ClockState:
    """A clock as the sweep reads it: a plain row, written back in bulk (id 0: not yet stored)."""

    id: int
    complaint_id: int
    stage: str
    rung: str
    started_at: datetime
    reminder_at: datetime
    urge_at: datetime
    due_at: datetime
    next_card_at: datetime | None
    next_card: str | None
    paused_since: datetime | None
    paused_seconds: int
    extended: bool
    fallback_used: bool
    stopped_at: datetime | None = None
    stop_reason: str | None = None

    def row(self) -> dict[str, Any]:
        """Return the column values to store."""
        return {name: getattr(self, name) for name in _STORED}


def card_moment(clock: Clock, kind: CardKind) -> datetime:
    """Return when a card of this clock falls due; the breach is the first instant past due."""
    if kind is CardKind.BREACH:
        # The due moment itself still keeps the promise (Deadline.is_overdue is `now > due`).
        return clock.due_at + _TICK
    return clock.reminder_at if kind is CardKind.REMINDER else clock.urge_at


def point_at(clock: Clock, kind: CardKind | None) -> None:
    """Make `kind` the clock's next card; a paused or finished clock has no next moment."""
    clock.next_card = None if kind is None else kind.value
    waiting = kind is not None and clock.paused_since is None and clock.stopped_at is None
    clock.next_card_at = card_moment(clock, kind) if waiting and kind is not None else None


def card_after(kind: CardKind) -> CardKind | None:
    """Return the card that follows this one (none after the breach)."""
    index = CARD_ORDER.index(kind)
    return CARD_ORDER[index + 1] if index + 1 < len(CARD_ORDER) else None


def reschedule(clock: Clock, policy: Policy, calendar: WorkCalendar, next_card: CardKind | None) -> None:
    """Compute the clock's due moment and card moments; point it at its next card."""
    deadline = stage_deadline(
        Stage(clock.stage),
        clock.started_at,
        policy,
        calendar,
        paused=timedelta(seconds=clock.paused_seconds or 0),
        extended=bool(clock.extended),
    )
    clock.due_at = deadline.due
    clock.reminder_at = deadline.card_at(CardKind.REMINDER, policy)
    clock.urge_at = deadline.card_at(CardKind.URGE, policy)
    clock.fallback_used = deadline.fallback_used
    point_at(clock, next_card)


STATE_FIELDS = tuple(f.name for f in fields(ClockState))  # in the order ClockState(*row) takes them
_STORED = STATE_FIELDS[1:]  # all but the id
