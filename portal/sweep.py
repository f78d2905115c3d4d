"""The sweep: issue every card and escalation due at `now`, exactly once, however it is run.

Exactly-once rests on the card rows, not on the lock: each card's unique key is inserted
before its action, in the same transaction, and a key that exists is never acted on again.
The lock only keeps two sweeps from doing the same work twice over.

On PostgreSQL a sweep with more than a batch to do runs two workers, each over its own share
of the cases (by case id): while one waits for the server to write its batch, the other
prepares its own in Python.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from portal.bulk import among
from portal.cards import ChainWriter, DueCard, claim, due_cards
from portal.caseclocks import CaseClocks
from portal.clock import CardKind, Stage
from portal.clockstate import Clock, card_after
from portal.collector import fewer_collections
from portal.db import begin_write
from portal.escalation import escalate
from portal.models import Complaint, Market, Merchant, RegulatorUnit, StageClock
from portal.policy import work_calendar
from portal.regulator import end_mediation
from portal.stages import MINUTE_STAGES
from portal.workdays import WorkCalendar

BATCH = 1000  # clocks per transaction: few commits, yet SQLite's write lock is held briefly
# PostgreSQL writes a batch in its own server process, so a second worker's Python overlaps
# the first one's statements: 10,000 due cases took 3.6-4.7 s instead of 4.9-6.4 s
# (bench/sweep.py). SQLite lets one writer in at a time: a second worker would only wait.
POSTGRES_WORKERS = 2
_LADDER_STAGES = frozenset(stage.value for stage in MINUTE_STAGES)


@dataclass
class SweepReport:
    """What a sweep did: one line per card or escalation, and the totals."""

    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)
    late: int = 0
    skipped: int = 0  # cards another run had already issued

    def add(self, other: SweepReport) -> None:
        """Count in what another worker of the same sweep did."""
        self.counts.update(other.counts)
        self.lines += other.lines
        self.late += other.late
        self.skipped += other.skipped

    def summary(self) -> str:
        """Return one line of totals."""
        parts = [f"{n} {kind}" for kind, n in sorted(self.counts.items())] or ["nothing due"]
        return f"sweep: {', '.join(parts)}; {self.late} late; {self.skipped} already issued"


def breach_action(clock: Clock, complaint: Complaint) -> str:
    """Name what a breached clock does: climb the ladder, or what the top rung does instead."""
    if clock.stage in _LADDER_STAGES and complaint.rung in ("merchant", "station"):
        return "escalated"
    if clock.stage == Stage.MEDIATION.value:
        return "mediation_ended"  # Order 121: no agreement within 60 days ends mediation
    if clock.stage == Stage.RETURN.value:
        return "return_window_closed"  # the unit kept the case, so it is its own (首接负责制)
    return "overdue"  # 督办: the outbox tells the supervising unit


def plan(complaint: Complaint, clocks: list[Clock], now: datetime) -> list[DueCard]:
    """Return the case's due cards in order, up to a breach that moves it up the ladder."""
    planned: list[DueCard] = []
    for card in sorted((c for clock in clocks for c in due_cards(clock, now)), key=DueCard.sort_key):
        planned.append(card)
        if card.kind is CardKind.BREACH and breach_action(card.clock, complaint) == "escalated":
            break  # the climb stops every clock of this rung; the next rung starts afresh
    return planned


def _act(
    session: Session,
    complaint: Complaint,
    card: DueCard,
    now: datetime,
    salt: str,
    clocks: CaseClocks,
    writer: ChainWriter,
) -> str:
    """Issue one won card: its event, and on breach what the breach sets in motion."""
    clock, late = card.clock, card.late(now)
    data = {
        "stage": clock.stage,
        "rung": clock.rung,
        "card_at": card.at.isoformat(),
        "due_at": clock.due_at.isoformat(),
        "late": late,
    }
    if card.kind is not CardKind.BREACH:
        writer.append(complaint, card.kind.value, now=now, data=data)
        return card.kind.value
    action = breach_action(clock, complaint)
    if action == "escalated":
        escalate(
            session,
            complaint,
            reason="",
            actor="system",
            now=now,
            salt=salt,
            clocks=clocks,
            writer=writer,
            breach=data,
        )
    elif action == "mediation_ended":
        end_mediation(
            session, complaint, actor=None, now=now, salt=salt, clocks=clocks, writer=writer, late=late
        )
    else:
        if action == "return_window_closed":
            clocks.stop(complaint, [Stage.RETURN], "window_closed")
        writer.append(complaint, action, now=now, data=data)
    return action


def _load_places(session: Session, complaints: Iterable[Complaint]) -> list[object]:
    """Read the batch's shops, markets and units at once; return them, to keep them loaded.

    The identity map holds objects weakly, so the caller keeps what this returns: a case's
    shop or market (complaint.merchant, .market) and the unit named on an escalation are
    then found there by their keys, without a query each. Cheaper than selectinload, whose
    bookkeeping per case cost more than these three queries (bench/sweep.py).
    """
    shops, markets, units = set(), set(), set()
    for complaint in complaints:
        shops.add(complaint.merchant_id)
        markets.add(complaint.market_id)
        units.add(complaint.unit_id)
    return [
        *session.scalars(select(Merchant).where(Merchant.id.in_(shops - {None}))),
        *session.scalars(select(Market).where(Market.id.in_(markets - {None}))),
        *session.scalars(select(RegulatorUnit).where(RegulatorUnit.id.in_(units))),
    ]


def sweep_batch(
    session: Session,
    now: datetime,
    salt: str,
    limit: int,
    report: SweepReport,
    calendar: WorkCalendar | None = None,
    share: tuple[int, int] = (0, 1),
) -> tuple[int, int]:
    """Issue the cards of up to `limit` due clocks in this transaction; flush.

    `share` (k, n): only cases whose id is k modulo n (a worker's share of the sweep).
    Return how many due clocks the query found and how many were still due once locked.
    """
    if not session.in_transaction():
        begin_write(session)  # SQLite: hold the write lock before reading what is due
    due = (
        session.execute(
            select(StageClock.complaint_id)
            .where(StageClock.next_card_at <= now)
            .where(*([StageClock.complaint_id % share[1] == share[0]] if share[1] > 1 else []))
            .order_by(StageClock.next_card_at, StageClock.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    ids = sorted(set(due))
    if not ids:
        return 0, 0
    # Lock the cases in id order, then re-read their clocks: whatever a concurrent sweep or
    # a staff action committed meanwhile is seen here, never overwritten.
    complaints = {
        c.id: c
        for c in session.scalars(
            select(Complaint)
            .where(among(session, Complaint.id, ids))
            .order_by(Complaint.id)
            .with_for_update(of=Complaint)
        )
    }
    _places = _load_places(session, complaints.values())
    clocks = CaseClocks(session, now, calendar, bulk=True)
    clocks.preload(ids)
    writer = ChainWriter(session, salt, bulk=True)
    writer.preload(ids)
    writer.prefetch(list(complaints.values()))
    plans: dict[int, tuple[Complaint, list[Clock], list[DueCard]]] = {}
    for complaint_id in ids:
        complaint = complaints[complaint_id]
        ripe = [c for c in clocks.running(complaint) if c.next_card_at is not None and c.next_card_at <= now]
        plans[complaint_id] = (complaint, ripe, plan(complaint, ripe, now))
    won = claim(session, [card for _c, _r, cards in plans.values() for card in cards], now)
    # Everything the loop reads is locked, preloaded or in the identity map; the changes are
    # kept as rows and written in a few bulk statements, not object by object.
    with session.no_autoflush:
        _issue(session, now, salt, plans, won, report, clocks, writer)
    clocks.write()
    writer.write()
    session.flush()
    return len(due), sum(len(ripe) for _c, ripe, _p in plans.values())


def _issue(
    session: Session,
    now: datetime,
    salt: str,
    plans: dict[int, tuple[Complaint, list[Clock], list[DueCard]]],
    won: set[str],
    report: SweepReport,
    clocks: CaseClocks,
    writer: ChainWriter,
) -> None:
    """Act on every won card of the batch and move each clock on to its next card."""
    for complaint, ripe, cards in plans.values():
        for card in cards:
            if card.key in won:
                action = _act(session, complaint, card, now, salt, clocks, writer)
                report.counts[action] += 1
                report.late += card.late(now)
                report.lines.append(
                    f"{complaint.case_number} {action} {card.clock.stage}"
                    f"@{card.clock.rung}{' late' if card.late(now) else ''}"
                )
            else:
                report.skipped += 1
            if card.clock.stopped_at is None:
                clocks.point(card.clock, card_after(card.kind))
        for clock in ripe:
            if (
                clock.stopped_at is None
                and not due_cards(clock, now)
                and clock.next_card_at is not None
                and clock.next_card_at <= now
            ):
                # Never leave a clock due without a card: it would hold up every later sweep.
                clocks.point(clock, CardKind(clock.next_card) if clock.next_card else None)


def sweep_workers(engine: Engine) -> int:
    """Return how many workers a sweep on this database runs."""
    return POSTGRES_WORKERS if engine.dialect.name == "postgresql" else 1


def run_sweep(
    open_session: Callable[[], Session], now: datetime, salt: str, *, batch: int = BATCH, workers: int = 1
) -> SweepReport:
    """Sweep in batches, one committed transaction each, until nothing is due at `now`.

    With workers > 1, once a first full batch shows there is more to do, each worker thread
    sweeps its own share of the cases; the first error stops the others after their current
    batch and is raised here. (A sweep with less than a batch due stays in one thread, so
    each recipient still gets a single digest of it.)
    """
    if now.tzinfo is None:
        raise ValueError("the sweep needs an aware `now` (UTC)")
    now = now.astimezone(UTC)
    report = SweepReport()
    with fewer_collections():
        more = _sweep_share(open_session, now, salt, batch, (0, 1), report, once=workers > 1)
        if more:
            for other in _sweep_in_threads(open_session, now, salt, batch, workers):
                report.add(other)
            report.lines.sort(key=lambda line: line.split(" ", 1)[0])  # by case number, not by worker
    return report


def _sweep_share(
    open_session: Callable[[], Session],
    now: datetime,
    salt: str,
    batch: int,
    share: tuple[int, int],
    report: SweepReport,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
) -> bool:
    """Sweep one share of the cases in batches until nothing in it is due; return whether more may be."""
    calendar: WorkCalendar | None = None
    while stop is None or not stop.is_set():
        with open_session() as session:
            begin_write(session)
            calendar = calendar or work_calendar(session)
            found, ripe = sweep_batch(session, now, salt, batch, report, calendar, share)
            session.commit()
        # Every ripe clock moves on (a card, a stop, or a repair), so a full batch means more
        # may be due; a full batch with none ripe means another sweep took them all.
        if found < batch or ripe == 0:
            return False
        if once:
            return True
    return True


def _sweep_in_threads(
    open_session: Callable[[], Session], now: datetime, salt: str, batch: int, workers: int
) -> list[SweepReport]:
    """Run one worker thread per share, each in its own app context; return their reports."""
    app: Any = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
    reports = [SweepReport() for _ in range(workers)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def work(k: int) -> None:
        context: AbstractContextManager[Any] = app.app_context() if app is not None else nullcontext()
        try:
            with context:
                _sweep_share(open_session, now, salt, batch, (k, workers), reports[k], stop=stop)
        except BaseException as exc:  # raised again in the caller's thread, below
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=(k,), name=f"kuaisu-sweep-{k}") for k in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return reports
