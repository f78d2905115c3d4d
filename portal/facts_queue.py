"""Queueing changed cases for the insight facts, and catching the queue up before reading.

Measuring a case's facts inside the transaction that changes it cost a shopper's complaint
and the sweep more than the change itself, under SQLite's single write lock. So a changing
transaction only queues its cases (one row each, in case_fact_queue), and the facts are
measured later, many cases per statement:
- every minute, by `kuaisu insight refresh` beside the sweep;
- before any figure is read (portal.dashboard), so a reader never sees a queued case's old
  facts: the dashboard, exports, the monthly report and the weekly summary are exact.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from portal.bulk import insert_rows
from portal.case_changes import forget_changed, note_changed, take_changed
from portal.db import begin_write, is_writing
from portal.facts_upkeep import refresh_cases
from portal.models import CaseFactQueue, Complaint, Event, StageClock

# Queued rows measured per statement: well under every database's parameter limit.
BATCH = 5_000
# PostgreSQL: one catch-up at a time, so two never measure the same new case twice.
_LOCK_KEY = 0x6B75_6661  # "kufa"
_QUEUE = cast(Table, CaseFactQueue.__table__)
_ANY_QUEUED = select(_QUEUE.c.seq).limit(1)


def _case_id(obj: object) -> int | None:
    if isinstance(obj, Complaint):
        return obj.id
    if isinstance(obj, Event | StageClock):
        return obj.complaint_id
    return None


def watch(factory: sessionmaker[Session]) -> None:
    """Make every session of the factory queue the cases it changed, as it commits."""

    @event.listens_for(factory, "after_flush")
    def _note(session: Session, _context: Any) -> None:
        # After the flush new cases have ids; new and dirty still list what was written.
        note_changed(session, (_case_id(obj) for obj in (*session.new, *session.dirty)))

    @event.listens_for(factory, "before_commit")
    def _queue(session: Session) -> None:
        session.flush()
        changed = take_changed(session)
        if changed:
            insert_rows(session, _QUEUE, [{"complaint_id": i} for i in sorted(changed)])

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        forget_changed(session)


def catch_up(session: Session, *, batch: int = BATCH) -> int:
    """Measure every queued case in the session's (writing) transaction; return how many changed.

    Only the queue rows read are deleted: a case queued again meanwhile is measured next time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    changed = 0
    oldest = select(_QUEUE.c.seq, _QUEUE.c.complaint_id).order_by(_QUEUE.c.seq)
    while True:
        seqs, cases = [], set()
        for seq, complaint_id in session.execute(oldest.limit(batch)):
            seqs.append(seq)
            cases.add(complaint_id)
        if not seqs:
            return changed
        changed += refresh_cases(session, cases)
        session.execute(delete(CaseFactQueue).where(_QUEUE.c.seq.in_(seqs)))


def catch_up_before_reading(session: Session) -> None:
    """Bring the facts up to date before `session` reads them.

    A writing session catches up in its own transaction. A reading one would fail to write on
    SQLite, and its snapshot may predate the catch-up: the queue is caught up in a writing
    session of its own, and the reader's transaction ended so its next statement sees it.
    """
    if session.execute(_ANY_QUEUED).first() is None:
        return
    if is_writing(session):
        catch_up(session)
        return
    with Session(session.get_bind()) as writer:
        begin_write(writer)
        catch_up(writer)
        writer.commit()
    session.commit()
