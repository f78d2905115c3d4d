"""Admin-loaded holidays and make-up working days, and the warnings when the calendar guesses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.audit import append_event
from portal.caseclocks import CaseClocks
from portal.clock import CardKind
from portal.clockstate import reschedule
from portal.models import CalendarDay, Complaint, StageClock
from portal.policy import work_calendar

# The longest regulator clock: 60 days of mediation plus its 7-working-day notice, or a
# verification of 15 + 15 working days. Any year it can reach must be known in advance.
HORIZON = timedelta(days=120)
MAX_LISTED = 50


@dataclass(frozen=True)
class LoadResult:
    """What loading a holiday file changed."""

    years: list[int]
    days: int
    recomputed: int


@dataclass(frozen=True)
class LoadedYear:
    """One year of admin-loaded calendar data."""

    year: int
    holidays: int
    workdays: int
    loaded_at: datetime


@dataclass(frozen=True)
class GuessedDeadline:
    """An open case whose running deadline was counted on the fallback calendar."""

    case_number: str
    stage: str
    due_at: datetime


@dataclass(frozen=True)
class CalendarWarning:
    """What admins must see: years no source knows, and deadlines that were guessed."""

    unknown_years: list[int]
    guessed: list[GuessedDeadline]

    def __bool__(self) -> bool:
        return bool(self.unknown_years or self.guessed)


def load_calendar(
    session: Session, days: dict[date, bool], *, user_id: int | None, now: datetime, salt: str
) -> LoadResult:
    """Replace each listed year's days with the file's; recount the deadlines that guessed."""
    years = sorted({day.year for day in days})
    for year in years:
        session.execute(
            delete(CalendarDay).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
            )
        )
    session.add_all(
        CalendarDay(day=day, is_working=working, loaded_at=now, loaded_by_id=user_id)
        for day, working in sorted(days.items())
    )
    session.flush()
    return LoadResult(years, len(days), recount_guessed(session, now, salt))


def recount_guessed(session: Session, now: datetime, salt: str) -> int:
    """Recompute running deadlines that used the fallback, now that real data may exist."""
    guessed = list(
        session.scalars(
            select(StageClock).where(StageClock.fallback_used.is_(True), StageClock.stopped_at.is_(None))
        )
    )
    clocks = CaseClocks(session, now, work_calendar(session))
    changed = 0
    for clock in guessed:
        complaint = session.get(Complaint, clock.complaint_id)
        assert complaint is not None
        before = clock.due_at
        following = CardKind(clock.next_card) if clock.next_card else None
        reschedule(clock, clocks.policy(complaint), clocks.calendar, following)
        if clock.due_at != before:
            changed += 1
            append_event(
                session,
                complaint,
                "deadline_recounted",
                now=now,
                salt=salt,
                actor_role="system",
                data={"stage": clock.stage, "was": before.isoformat(), "due_at": clock.due_at.isoformat()},
            )
            clocks.sync_headline(complaint)
    session.flush()
    return changed


def loaded_years(session: Session) -> list[LoadedYear]:
    """List the years an admin loaded, with their counts."""
    holidays: Counter[int] = Counter()
    workdays: Counter[int] = Counter()
    loaded: dict[int, datetime] = {}
    for day, working, loaded_at in session.execute(
        select(CalendarDay.day, CalendarDay.is_working, CalendarDay.loaded_at)
    ):
        (workdays if working else holidays)[day.year] += 1
        loaded[day.year] = max(loaded.get(day.year, loaded_at), loaded_at)
    return [LoadedYear(y, holidays[y], workdays[y], loaded[y]) for y in sorted(loaded)]


def calendar_warning(session: Session, now: datetime) -> CalendarWarning:
    """Return the years within reach that no source knows, and the guessed deadlines."""
    calendar = work_calendar(session)
    reach = range(now.year, (now + HORIZON).year + 1)
    unknown = [year for year in reach if not calendar.knows_year(year)]
    rows = session.execute(
        select(Complaint.case_number, StageClock.stage, StageClock.due_at)
        .join(Complaint, Complaint.id == StageClock.complaint_id)
        .where(StageClock.fallback_used.is_(True), StageClock.stopped_at.is_(None))
        .order_by(StageClock.due_at)
        .limit(MAX_LISTED)
    )
    return CalendarWarning(unknown, [GuessedDeadline(*row) for row in rows])
