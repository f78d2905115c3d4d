"""Test stage deadlines, policies and cards with exact datetimes."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.clock import SHANGHAI, CardKind, Deadline, Policy, PolicyError, Stage, stage_deadline
from portal.workdays import WorkCalendar

CALENDAR = WorkCalendar()
POLICY = Policy()


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def end_of_shanghai_day(day: date) -> datetime:
    """Return 23:59:59.999999 Shanghai on the day, i.e. 15:59:59.999999 UTC."""
    return datetime(day.year, day.month, day.day, 15, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stage", "minutes"),
    [
        (Stage.RESPOND, 45),
        (Stage.ONSITE, 90),
        (Stage.FEEDBACK, 1440),
        (Stage.RETURN, 1200),
        (Stage.TELL_RETURN, 120),
    ],
)
def test_minute_stages_run_on_natural_time(stage: Stage, minutes: int) -> None:
    # Started on a Spring Festival holiday: minute clocks do not stop for it.
    started = utc(2026, 2, 16, 3, 0)
    deadline = stage_deadline(stage, started, POLICY, CALENDAR)
    assert deadline == Deadline(stage, started, started + timedelta(minutes=minutes), False)


def test_cards_for_a_45_minute_clock() -> None:
    deadline = stage_deadline(Stage.RESPOND, utc(2026, 3, 3, 1, 0), POLICY, CALENDAR)
    assert deadline.card_at(CardKind.REMINDER, POLICY) == utc(2026, 3, 3, 1, 22, 30)
    assert deadline.card_at(CardKind.URGE, POLICY) == utc(2026, 3, 3, 1, 36)
    assert deadline.card_at(CardKind.BREACH, POLICY) == utc(2026, 3, 3, 1, 45)


def test_time_left_and_overdue() -> None:
    deadline = stage_deadline(Stage.RESPOND, utc(2026, 3, 3, 1, 0), POLICY, CALENDAR)
    assert deadline.time_left(utc(2026, 3, 3, 1, 30)) == timedelta(minutes=15)
    assert not deadline.is_overdue(utc(2026, 3, 3, 1, 45))
    assert deadline.is_overdue(utc(2026, 3, 3, 1, 45) + timedelta(microseconds=1))
    assert deadline.time_left(utc(2026, 3, 3, 2, 0)) == timedelta(minutes=-15)


def test_xian_onsite_override() -> None:
    xian = POLICY.merged({"onsite_minutes": 30})
    started = utc(2026, 3, 3, 1, 0)
    assert stage_deadline(Stage.ONSITE, started, xian, CALENDAR).due == utc(2026, 3, 3, 1, 30)
    assert xian.as_dict() == {**POLICY.as_dict(), "onsite_minutes": 30}
    assert POLICY.onsite_minutes == 90


def test_as_dict_round_trips() -> None:
    assert Policy().merged(POLICY.as_dict()) == POLICY


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"onsite_minute": 30}, "unknown policy field(s): onsite_minute"),
        ({"onsite_minutes": -30}, "from 1 to"),
        ({"onsite_minutes": 0}, "from 1 to"),
        ({"onsite_minutes": "30"}, "must be a int"),
        ({"onsite_minutes": 30.0}, "must be a int"),
        ({"onsite_minutes": True}, "must be a int"),
        ({"accept_working_days": 8}, "from 1 to 7"),  # Order 121 allows at most 7
        ({"mediation_days": 61}, "from 1 to 60"),
        ({"reminder_fraction": 1.5}, "between 0 and 1"),
        ({"urge_fraction": 0.4}, "below urge_fraction"),
    ],
)
def test_bad_policy_overrides(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        POLICY.merged(overrides)


def test_accept_across_midnight_in_shanghai() -> None:
    # 15:50 UTC is 23:50 Tuesday 03-03 in Shanghai: counting starts after 03-03.
    late = stage_deadline(Stage.ACCEPT, utc(2026, 3, 3, 15, 50), POLICY, CALENDAR)
    assert late.due == end_of_shanghai_day(date(2026, 3, 12))
    # 16:10 UTC is 00:10 Wednesday 03-04 in Shanghai: one day later.
    after = stage_deadline(Stage.ACCEPT, utc(2026, 3, 3, 16, 10), POLICY, CALENDAR)
    assert after.due == end_of_shanghai_day(date(2026, 3, 13))
    assert after.due.astimezone(SHANGHAI).isoformat() == "2026-03-13T23:59:59.999999+08:00"


def test_accept_across_spring_festival() -> None:
    deadline = stage_deadline(Stage.ACCEPT, utc(2026, 2, 13, 2, 0), POLICY, CALENDAR)
    assert deadline.due == end_of_shanghai_day(date(2026, 3, 2))
    assert not deadline.fallback_used
    assert not deadline.is_overdue(utc(2026, 3, 2, 15, 59))
    assert deadline.is_overdue(utc(2026, 3, 2, 16, 0))  # Shanghai midnight


def test_verify_and_its_extension_across_national_day() -> None:
    started = utc(2026, 9, 22, 2, 0)
    plain = stage_deadline(Stage.VERIFY, started, POLICY, CALENDAR)
    assert plain.due == end_of_shanghai_day(date(2026, 10, 20))
    extended = stage_deadline(Stage.VERIFY, started, POLICY, CALENDAR, extended=True)
    assert extended.due == end_of_shanghai_day(date(2026, 11, 10))


def test_termination_notice_into_2027_uses_fallback() -> None:
    started = utc(2026, 12, 29, 2, 0)
    guessed = stage_deadline(Stage.TERMINATION_NOTICE, started, POLICY, CALENDAR)
    assert guessed.due == end_of_shanghai_day(date(2027, 1, 7))
    assert guessed.fallback_used
    loaded = WorkCalendar({date(2027, 1, 1): False, date(2027, 1, 2): False})
    known = stage_deadline(Stage.TERMINATION_NOTICE, started, POLICY, loaded)
    assert known.due == end_of_shanghai_day(date(2027, 1, 8))
    assert not known.fallback_used


def test_mediation_moves_off_national_day() -> None:
    # 08-07 + 60 natural days = 10-06, inside National Day: moves to 10-08.
    deadline = stage_deadline(Stage.MEDIATION, utc(2026, 8, 7, 2, 0), POLICY, CALENDAR)
    assert deadline.due == end_of_shanghai_day(date(2026, 10, 8))


@pytest.mark.parametrize(
    ("paused", "end"),
    [
        (timedelta(0), date(2026, 7, 27)),  # 05-28 + 60 = 07-27, a Monday
        (timedelta(hours=1), date(2026, 7, 28)),  # part of a day counts as a day
        (timedelta(days=2), date(2026, 7, 29)),
        (timedelta(days=2, seconds=1), date(2026, 7, 30)),
    ],
)
def test_mediation_pause_rounds_up_to_days(paused: timedelta, end: date) -> None:
    started = utc(2026, 5, 28, 2, 0)
    deadline = stage_deadline(Stage.MEDIATION, started, POLICY, CALENDAR, paused=paused)
    assert deadline.due == end_of_shanghai_day(end)


def test_output_is_utc_even_for_shanghai_input() -> None:
    started = datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)
    deadline = stage_deadline(Stage.RESPOND, started, POLICY, CALENDAR)
    assert deadline.started_at.tzinfo is UTC
    assert deadline.started_at == utc(2026, 3, 3, 1, 0)
    assert deadline.due == utc(2026, 3, 3, 1, 45)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 3, 1, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        stage_deadline(Stage.RESPOND, naive, POLICY, CALENDAR)
    deadline = stage_deadline(Stage.RESPOND, utc(2026, 3, 3, 1, 0), POLICY, CALENDAR)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline.time_left(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline.is_overdue(naive)


@pytest.mark.parametrize(
    ("stage", "paused", "extended"),
    [
        (Stage.MEDIATION, timedelta(seconds=-1), False),
        (Stage.RESPOND, timedelta(hours=1), False),
        (Stage.ACCEPT, timedelta(0), True),
    ],
)
def test_misused_pause_or_extension(stage: Stage, paused: timedelta, extended: bool) -> None:
    with pytest.raises(ValueError):
        stage_deadline(stage, utc(2026, 3, 3, 1, 0), POLICY, CALENDAR, paused, extended)
