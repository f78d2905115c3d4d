"""The clocks of the cases one transaction touches: started, stopped, pointed at their next card.

One class serves a request (ORM objects, the unit of work writes them) and the sweep
(plain rows, written in a few bulk statements), so the ladder's rules are written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal import bulk
from portal.case_changes import note_changed
from portal.clock import CardKind, Policy, Stage
from portal.clockstate import STATE_FIELDS, Clock, ClockState, point_at, reschedule
from portal.models import Complaint, StageClock
from portal.policy import policy_for, work_calendar
from portal.workdays import WorkCalendar

# The return window is the unit's own business; the shopper's headline never shows it.
NOT_HEADLINE = frozenset({Stage.RETURN.value})
_CLOCKS = cast(Table, StageClock.__table__)
_CASES = cast(Table, Complaint.__table__)
_UNSET = object()


def identity_missing(complaint: Complaint) -> list[str]:
    """Name what Order 121 needs of a complainant and the case lacks: name, phone, address."""
    given = {"name": complaint.name, "phone": complaint.phone, "address": complaint.address}
    return [name for name, value in given.items() if not (value or "").strip()]


def rung_stages(complaint: Complaint) -> list[Stage]:
    """Return the clocks the rung holding the case runs (Changzhi practice, Order 121)."""
    if complaint.rung == "regulator":
        if complaint.kind == "report":
            return [Stage.VERIFY, Stage.RETURN]
        # Order 121: the 7 working days to accept run once the complaint is complete.
        return [Stage.RETURN] + ([] if identity_missing(complaint) else [Stage.ACCEPT])
    # Respond, on site and feedback run side by side from the moment the rung has the case.
    stages = [Stage.RESPOND, Stage.FEEDBACK]
    if complaint.on_site and complaint.onsite_at is None:
        stages.insert(1, Stage.ONSITE)
    if complaint.rung == "station":
        stages.append(Stage.RETURN)
    return stages


class CaseClocks:
    """The clocks of the cases in one transaction, with policies and the calendar cached.

    With bulk=True (the sweep) clocks are plain ClockState rows and case changes are set
    without dirtying the ORM objects; write() then stores everything in a few statements.
    """

    def __init__(
        self, session: Session, now: datetime, calendar: WorkCalendar | None = None, *, bulk: bool = False
    ) -> None:
        self.session, self.now, self.bulk = session, now, bulk
        self._calendar = calendar
        self._policies: dict[tuple[int, int | None], Policy] = {}
        self._running: dict[int, list[Clock]] = {}
        self._changed: dict[int, ClockState] = {}
        self._new: list[ClockState] = []
        self._cases: dict[int, dict[str, Any]] = {}

    @cached_property
    def calendar(self) -> WorkCalendar:
        """Return the working-day calendar, loaded once."""
        return self._calendar or work_calendar(self.session)

    def policy(self, complaint: Complaint) -> Policy:
        """Return the promise of the case's unit and market."""
        key = (complaint.unit_id, complaint.market_id)
        if key not in self._policies:
            self._policies[key] = policy_for(self.session, unit_id=complaint.unit_id, market=complaint.market)
        return self._policies[key]

    def know_policy(self, complaint: Complaint, policy: Policy) -> None:
        """Take the promise of the case's unit and market as already worked out by the caller."""
        self._policies[(complaint.unit_id, complaint.market_id)] = policy

    def preload(self, complaint_ids: Iterable[int]) -> None:
        """Load the running clocks of many cases in one query."""
        ids = [i for i in complaint_ids if i not in self._running]
        for complaint_id in ids:
            self._running[complaint_id] = []
        if not ids:
            return
        where = (bulk.among(self.session, StageClock.complaint_id, ids), StageClock.stopped_at.is_(None))
        found: Iterable[Clock]
        if self.bulk:
            rows = self.session.execute(select(*(_CLOCKS.c[name] for name in STATE_FIELDS)).where(*where))
            found = [ClockState(*row) for row in rows]
        else:
            found = self.session.scalars(select(StageClock).where(*where).order_by(StageClock.id))
        for clock in found:
            self._running[clock.complaint_id].append(clock)

    def running(self, complaint: Complaint) -> list[Clock]:
        """Return the case's running clocks."""
        if complaint.id not in self._running:  # asked per event: the batch is preloaded
            self.preload([complaint.id])
        return self._running[complaint.id]

    def find(self, complaint: Complaint, stage: Stage) -> Clock | None:
        """Return the running clock of a stage, if any."""
        return next((c for c in self.running(complaint) if c.stage == stage.value), None)

    def start(self, complaint: Complaint, stage: Stage) -> Clock:
        """Start a stage's clock now, at the case's rung."""
        values: dict[str, Any] = {
            "complaint_id": complaint.id,
            "stage": stage.value,
            "rung": complaint.rung,
            "started_at": self.now,
            "paused_seconds": 0,
            "extended": False,
            "paused_since": None,
            "reminder_at": self.now,
            "urge_at": self.now,
            "due_at": self.now,
            "next_card": None,
            "next_card_at": None,
            "fallback_used": False,
        }
        clock: Clock
        if self.bulk:
            clock = ClockState(id=0, **values)
            self._new.append(clock)
        else:
            clock = StageClock(**values)
            self.session.add(clock)
        reschedule(clock, self.policy(complaint), self.calendar, CardKind.REMINDER)
        self.running(complaint).append(clock)
        return clock

    def point(self, clock: Clock, kind: CardKind | None) -> None:
        """Move a clock on to its next card (the sweep, after issuing one)."""
        point_at(clock, kind)
        self._note(clock)

    def stop(self, complaint: Complaint, stages: Iterable[Stage] | None, reason: str) -> None:
        """Stop the case's running clocks of these stages (all of them for None)."""
        names = None if stages is None else {stage.value for stage in stages}
        keep = []
        for clock in self.running(complaint):
            if names is None or clock.stage in names:
                clock.stopped_at, clock.stop_reason, clock.next_card_at = self.now, reason, None
                self._note(clock)
            else:
                keep.append(clock)
        self._running[complaint.id] = keep

    def open_rung(self, complaint: Complaint, *, new: bool = False) -> None:
        """Start the clocks of the rung that now holds the case (a new case has none running)."""
        if new:
            self._running.setdefault(complaint.id, [])
        for stage in rung_stages(complaint):
            self.start(complaint, stage)
        self.sync_headline(complaint)

    def sync_headline(self, complaint: Complaint) -> None:
        """Show the most pressing running clock on the case (the shopper's and board's clock)."""
        shown = [c for c in self.running(complaint) if c.stage not in NOT_HEADLINE]
        clock = min(shown, key=lambda c: c.due_at) if shown else None
        self.set_case(
            complaint,
            stage=clock.stage if clock else None,
            stage_started_at=clock.started_at if clock else None,
            # A paused mediation has no due moment until it resumes (Order 121: testing time).
            stage_due_at=clock.due_at if clock and clock.paused_since is None else None,
        )

    def set_case(self, complaint: Complaint, **values: Any) -> None:
        """Change the case; in bulk mode the change is kept for write(), the object stays clean."""
        if not self.bulk:
            for name, value in values.items():
                setattr(complaint, name, value)
            return
        # Read only what is loaded: an unloaded column counts as changed and costs no query.
        loaded = complaint.__dict__
        changed = {name: value for name, value in values.items() if loaded.get(name, _UNSET) != value}
        for name, value in changed.items():
            set_committed_value(complaint, name, value)
        if changed:
            self._cases.setdefault(complaint.id, {}).update(changed)

    def write(self) -> None:
        """Store the bulk changes: clocks changed, clocks started, cases changed."""
        changed = self._changed.values()
        note_changed(self.session, [*self._cases, *(c.complaint_id for c in (*changed, *self._new))])
        moved = [c for c in changed if c.stopped_at is None]
        stopped = [c for c in changed if c.stopped_at is not None]
        bulk.update_rows(
            self.session,
            _CLOCKS,
            [{"id": c.id, "next_card": c.next_card, "next_card_at": c.next_card_at} for c in moved],
        )
        bulk.update_rows(
            self.session,
            _CLOCKS,
            [
                {"id": c.id, "next_card_at": None, "stopped_at": c.stopped_at, "stop_reason": c.stop_reason}
                for c in stopped
            ],
        )
        bulk.insert_rows(self.session, _CLOCKS, [clock.row() for clock in self._new])
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for complaint_id, values in self._cases.items():
            by_columns.setdefault(tuple(sorted(values)), []).append({"id": complaint_id, **values})
        for rows in by_columns.values():
            # The row is locked by the sweep; the version still moves, so stale forms notice.
            bulk.update_rows(self.session, _CASES, rows, bump_version=True)
        self._changed, self._new, self._cases = {}, [], {}

    def _note(self, clock: Clock) -> None:
        """Remember a stored plain clock that changed, for write()."""
        if isinstance(clock, ClockState) and clock.id:
            self._changed[clock.id] = clock
