"""Compute stage deadlines and reminder, urge and breach card times."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from portal.workdays import WorkCalendar

# Times are stored and returned in UTC; only day arithmetic happens in Shanghai.
SHANGHAI = ZoneInfo("Asia/Shanghai")
_ONE_DAY = timedelta(days=1)
# A minute clock longer than a week is a typo, not a promise.
_MAX_MINUTES = 7 * 24 * 60
# Order 121 sets these periods as maxima: a unit may promise faster, never slower.
_LEGAL_MAXIMUM = {
    "accept_working_days": 7,
    "mediation_days": 60,
    "termination_notice_working_days": 7,
    "verify_working_days": 15,
    "verify_extension_working_days": 15,
}


class Stage(StrEnum):
    """Name a clocked stage of a complaint."""

    RESPOND = "respond"
    ONSITE = "onsite"
    FEEDBACK = "feedback"
    RETURN = "return"
    TELL_RETURN = "tell_return"
    ACCEPT = "accept"
    MEDIATION = "mediation"
    TERMINATION_NOTICE = "termination_notice"
    VERIFY = "verify"


class CardKind(StrEnum):
    """Name a card raised as a stage clock runs down."""

    REMINDER = "reminder"
    URGE = "urge"
    BREACH = "breach"


class PolicyError(ValueError):
    """Reject a policy that names an unknown field or holds a bad value."""


@dataclass(frozen=True)
class Policy:
    """Hold the time limits of every stage; a market or regulator unit overrides any field."""

    # Changzhi double commitment (双承诺): respond 45 min, on site 90 min, feedback 24 h,
    # return an out-of-remit case within 20 h, tell the complainant within 2 h of it.
    respond_minutes: int = 45
    onsite_minutes: int = 90
    feedback_minutes: int = 1440
    return_minutes: int = 1200
    tell_return_minutes: int = 120
    # Order 121: accept within 7 working days, mediate within 60 days, tell both parties of
    # termination within 7 working days, verify within 15 working days (+15 if extended).
    accept_working_days: int = 7
    mediation_days: int = 60
    termination_notice_working_days: int = 7
    verify_working_days: int = 15
    verify_extension_working_days: int = 15
    # Field practice: a reminder card at half the limit, an urge card before it runs out.
    reminder_fraction: float = 0.5
    urge_fraction: float = 0.8

    def __post_init__(self) -> None:
        """Validate every field, so no bad policy can exist."""
        for field in dataclasses.fields(self):
            _check_field(field.name, getattr(self, field.name), field.default)
        if not self.reminder_fraction < self.urge_fraction:
            raise PolicyError("reminder_fraction must be below urge_fraction")

    def merged(self, overrides: Mapping[str, object]) -> Policy:
        """Return this policy with a unit's overrides applied."""
        unknown = sorted(set(overrides) - set(self.as_dict()))
        if unknown:
            raise PolicyError(f"unknown policy field(s): {', '.join(unknown)}")
        # Values are untrusted here; __post_init__ checks each one's type and range.
        changes: dict[str, Any] = dict(overrides)
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, int | float]:
        """Return the fields as a plain dict, e.g. to store or show."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _check_field(name: str, value: object, default: object) -> None:
    """Raise PolicyError unless the value has the default's type and a sane range."""
    if isinstance(value, bool) or not isinstance(value, type(default)):
        raise PolicyError(f"{name} must be a {type(default).__name__}, got {value!r}")
    if isinstance(value, float) and not 0 < value < 1:
        raise PolicyError(f"{name} must be between 0 and 1, got {value}")
    if isinstance(value, int):
        maximum = _LEGAL_MAXIMUM.get(name, _MAX_MINUTES)
        if not 1 <= value <= maximum:
            raise PolicyError(f"{name} must be from 1 to {maximum}, got {value}")


@dataclass(frozen=True)
class Deadline:
    """Hold when a stage started, when it is due, and whether the calendar was guessed."""

    stage: Stage
    started_at: datetime
    due: datetime
    fallback_used: bool

    def __post_init__(self) -> None:
        """Refuse naive datetimes."""
        _to_utc(self.started_at, "started_at")
        _to_utc(self.due, "due")

    def card_at(self, kind: CardKind, policy: Policy) -> datetime:
        """Return when the card of this kind falls due."""
        if kind is CardKind.BREACH:
            return self.due
        fraction = policy.reminder_fraction if kind is CardKind.REMINDER else policy.urge_fraction
        return self.started_at + (self.due - self.started_at) * fraction

    def time_left(self, now: datetime) -> timedelta:
        """Return the time until due; negative when overdue."""
        return self.due - _to_utc(now, "now")

    def is_overdue(self, now: datetime) -> bool:
        """Return whether now is past the due moment."""
        return self.time_left(now) < timedelta(0)


_MINUTES: dict[Stage, Callable[[Policy], int]] = {
    Stage.RESPOND: lambda policy: policy.respond_minutes,
    Stage.ONSITE: lambda policy: policy.onsite_minutes,
    Stage.FEEDBACK: lambda policy: policy.feedback_minutes,
    Stage.RETURN: lambda policy: policy.return_minutes,
    Stage.TELL_RETURN: lambda policy: policy.tell_return_minutes,
}
_WORKING_DAYS: dict[Stage, Callable[[Policy], int]] = {
    Stage.ACCEPT: lambda policy: policy.accept_working_days,
    Stage.TERMINATION_NOTICE: lambda policy: policy.termination_notice_working_days,
    Stage.VERIFY: lambda policy: policy.verify_working_days,
}


def stage_deadline(
    stage: Stage,
    started_at: datetime,
    policy: Policy,
    calendar: WorkCalendar,
    paused: timedelta = timedelta(0),
    extended: bool = False,
) -> Deadline:
    """Return the deadline of a stage that started at started_at."""
    started = _to_utc(started_at, "started_at")
    if paused < timedelta(0):
        raise ValueError(f"paused must not be negative, got {paused}")
    if paused and stage is not Stage.MEDIATION:
        raise ValueError("only mediation pauses, for testing or appraisal (Order 121)")
    if extended and stage is not Stage.VERIFY:
        raise ValueError("only verification can be extended (Order 121)")
    if stage in _MINUTES:
        due = started + timedelta(minutes=_MINUTES[stage](policy))
        return Deadline(stage, started, due, fallback_used=False)
    local_start = started.astimezone(SHANGHAI).date()
    if stage is Stage.MEDIATION:
        # Order 121: testing/appraisal time does not count. Periods run in whole days, and
        # any part of a day spent testing is lost to mediation, so round up: the parties
        # never get less than their 60 days.
        pause_days = -(-paused // _ONE_DAY)
        result = calendar.add_natural_days(local_start, policy.mediation_days + pause_days)
    else:
        days = _WORKING_DAYS[stage](policy)
        if extended:
            days += policy.verify_extension_working_days
        result = calendar.add_working_days(local_start, days)
    return Deadline(stage, started, _end_of_local_day(result.day), result.fallback_used)


def _end_of_local_day(day: date) -> datetime:
    """Return the last microsecond of a Shanghai day, in UTC.

    Defined as the next Shanghai midnight minus one microsecond (23:59:59.999999 local),
    so a deadline is met all day long and is_overdue turns true at local midnight.
    """
    next_midnight = datetime.combine(day + _ONE_DAY, time(0), tzinfo=SHANGHAI)
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def _to_utc(moment: datetime, name: str) -> datetime:
    """Return the moment in UTC, refusing a naive datetime as the bug it is."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {moment}")
    return moment.astimezone(UTC)
