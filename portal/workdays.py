"""Tell working days from holidays on China's official calendar, with make-up weekends."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Literal

import chinese_calendar

Source = Literal["override", "package", "fallback"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KINDS = {"holiday": False, "休": False, "workday": True, "班": True}
_JSON_KEYS = ("year", "holidays", "workdays")
# A State Council notice never spans more than a year; a longer range is a typo.
_MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class WorkdayResult:
    """Hold a computed deadline day and whether a guessed calendar decided it."""

    day: date
    fallback_used: bool


@cache
def _package_knows(year: int) -> bool:
    """Return whether the chinesecalendar package has data for the year."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


class WorkCalendar:
    """Decide working days: admin overrides first, then chinesecalendar, then a fallback."""

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides = dict(overrides or {})
        # Loading any day of a year means the admin has typed in that year's State Council
        # notice, so its unlisted days follow the ordinary week without a warning.
        self._override_years = frozenset(day.year for day in self._overrides)

    def knows_year(self, year: int) -> bool:
        """Return whether a real source (admin file or package) covers the year."""
        return year in self._override_years or _package_knows(year)

    def source_for(self, d: date) -> Source:
        """Name the source that decides whether the day is a working day."""
        return self._lookup(d)[1]

    def is_working_day(self, d: date) -> bool:
        """Return whether the day is a working day."""
        return self._lookup(d)[0]

    def add_working_days(self, start: date, n: int) -> WorkdayResult:
        """Return the n-th working day after start."""
        _require_positive(n)
        day, counted, fallback_used = start, 0, False
        # Order 121 Art.45: the start day is not counted; only working days after it are.
        while counted < n:
            day += timedelta(days=1)
            working, source = self._lookup(day)
            fallback_used |= source == "fallback"
            if working:
                counted += 1
        return WorkdayResult(day, fallback_used)

    def add_natural_days(self, start: date, n: int) -> WorkdayResult:
        """Return the day n natural days after start, moved off holidays."""
        _require_positive(n)
        # Order 121 Art.45: the start day is not counted.
        day, fallback_used = start + timedelta(days=n), False
        while True:
            working, source = self._lookup(day)
            fallback_used |= source == "fallback"
            if working:
                return WorkdayResult(day, fallback_used)
            # Order 121 Art.45: a deadline on a holiday moves to the next working day.
            day += timedelta(days=1)

    def _lookup(self, d: date) -> tuple[bool, Source]:
        """Return whether the day is working and which source said so."""
        if d in self._overrides:
            return self._overrides[d], "override"
        if _package_knows(d.year):
            return bool(chinese_calendar.is_workday(d)), "package"
        ordinary_week = d.weekday() < 5
        if d.year in self._override_years:
            return ordinary_week, "override"
        # No source knows the year: per the product rule, weekdays work and weekends rest.
        # This ignores unannounced make-up weekends (调休), so callers must warn admins.
        return ordinary_week, "fallback"


def _require_positive(n: int) -> None:
    """Reject a period that is not at least one day."""
    if n < 1:
        raise ValueError(f"a period must be at least 1 day, got {n}")


class HolidayFileError(ValueError):
    """Reject an admin holiday file, naming the line at fault (None: the whole file)."""

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


def parse_holiday_file(text: str) -> dict[date, bool]:
    """Parse an admin holiday file into {day: is_working_day}.

    JSON, typed from a State Council notice (ranges are inclusive, written with ".."):
        {"year": 2027, "holidays": ["2027-01-01", "2027-02-05..2027-02-11"],
         "workdays": ["2027-02-14"]}
    or CSV, one entry per line, "#" starts a comment, an optional "date,kind" header:
        2027-02-05..2027-02-11,holiday
        2027-02-14,workday
    Kinds are "holiday"/"workday" (or 休/班). A day listed as both is an error.
    """
    text = text.removeprefix("\ufeff")  # Excel and Notepad save UTF-8 with a BOM.
    days = _parse_json(text) if text.lstrip().startswith("{") else _parse_csv(text)
    if not days:
        raise HolidayFileError(None, "the file lists no dates")
    return days


def _parse_json(text: str) -> dict[date, bool]:
    """Parse the JSON form of a holiday file."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HolidayFileError(exc.lineno, f"not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise HolidayFileError(1, "expected an object with year, holidays and workdays")
    for key in data:
        if key not in _JSON_KEYS:
            line = _line_at(text, _find(text, key, 0))
            raise HolidayFileError(line, f"unknown key {key!r}; expected year, holidays, workdays")
    year = data.get("year")
    if year is None:
        raise HolidayFileError(None, 'missing "year", e.g. "year": 2027')
    if not isinstance(year, int) or isinstance(year, bool):
        raise HolidayFileError(_line_at(text, _find(text, "year", 0)), '"year" must be a number')
    days: dict[date, bool] = {}
    for key, working in (("holidays", False), ("workdays", True)):
        cursor = _find(text, key, 0)
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise HolidayFileError(_line_at(text, cursor), f'"{key}" must be a list of dates')
        for entry in entries:
            # Entries appear in file order, so searching on from the last one finds each line.
            cursor = _find(text, entry, cursor)
            line = _line_at(text, cursor)
            if not isinstance(entry, str):
                raise HolidayFileError(line, f"{entry!r} is not a quoted date")
            _add(days, entry, working, line, year)
    return days


def _parse_csv(text: str) -> dict[date, bool]:
    """Parse the CSV form of a holiday file."""
    days: dict[date, bool] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        # A Chinese input method types the full-width comma.
        line = raw.split("#", 1)[0].replace("，", ",").strip()
        if not line or line.replace(" ", "").lower() == "date,kind":
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 2:
            raise HolidayFileError(number, "expected 'date,kind', e.g. 2027-02-05,holiday")
        entry, kind = fields[0], fields[1].lower()
        if kind not in _KINDS:
            raise HolidayFileError(number, f"kind {fields[1]!r} must be holiday or workday")
        _add(days, entry, _KINDS[kind], number, None)
    return days


def _add(days: dict[date, bool], entry: str, working: bool, line: int, year: int | None) -> None:
    """Record every day of an entry, rejecting a day listed both ways."""
    for day in _expand(entry, line):
        if year is not None and day.year != year:
            raise HolidayFileError(line, f"{day} is not in {year}, the year of this file")
        if days.get(day, working) != working:
            raise HolidayFileError(line, f"{day} is listed as both a holiday and a workday")
        days[day] = working


def _expand(entry: str, line: int) -> list[date]:
    """Turn "2027-02-05" or an inclusive "2027-02-05..2027-02-11" into days."""
    first, dots, last = entry.partition("..")
    start = _parse_date(first, line)
    end = _parse_date(last, line) if dots else start
    if end < start:
        raise HolidayFileError(line, f"range {entry.strip()} ends before it starts")
    if (end - start).days >= _MAX_RANGE_DAYS:
        raise HolidayFileError(line, f"range {entry.strip()} is longer than a year")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _parse_date(value: str, line: int) -> date:
    """Parse one YYYY-MM-DD date."""
    value = value.strip()
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise HolidayFileError(line, f"{value!r} is not a date like 2027-02-05")


def _find(text: str, value: object, start: int) -> int:
    """Find a JSON value's text at or after start; stay at start if it is spelled otherwise."""
    found = text.find(json.dumps(value, ensure_ascii=False), start)
    return found if found >= 0 else start


def _line_at(text: str, offset: int) -> int:
    """Return the 1-based line number of an offset."""
    return text.count("\n", 0, offset) + 1
