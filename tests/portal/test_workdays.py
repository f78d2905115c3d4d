"""Test the working-day calendar and the admin holiday file with exact dates."""

from datetime import date

import pytest

from portal.workdays import HolidayFileError, WorkCalendar, WorkdayResult, parse_holiday_file

CALENDAR = WorkCalendar()

# An admin's 2027 file, as typed before chinesecalendar 1.11.0 knows 2027.
FILE_2027 = {
    **dict.fromkeys([date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)], False),
    date(2027, 1, 9): True,
}


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before the Spring Festival
        (date(2026, 2, 14), True),  # Saturday, make-up working day (调休)
        (date(2026, 2, 15), False),  # Sunday, first day of the holiday
        (date(2026, 2, 16), False),  # Monday inside the Spring Festival
        (date(2026, 2, 23), False),  # Monday, last day of the holiday
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, make-up working day
        (date(2026, 9, 20), True),  # Sunday, make-up for National Day
        (date(2026, 10, 7), False),
        (date(2026, 10, 10), True),  # Saturday, make-up for National Day
        (date(2026, 10, 11), False),  # an ordinary Sunday
    ],
)
def test_package_calendar_2026(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working
    assert CALENDAR.source_for(day) == "package"


def test_start_day_not_counted() -> None:
    assert CALENDAR.add_working_days(date(2026, 3, 2), 1) == WorkdayResult(date(2026, 3, 3), False)


def test_working_days_across_spring_festival() -> None:
    # 02-14 Sat (make-up) is day 1; 02-15..23 rest; 24, 25, 26, 27, 28 (Sat make-up); 03-02.
    assert CALENDAR.add_working_days(date(2026, 2, 13), 7).day == date(2026, 3, 2)


def test_working_days_from_a_holiday() -> None:
    assert CALENDAR.add_working_days(date(2026, 2, 16), 1).day == date(2026, 2, 24)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 9, 18), date(2026, 9, 20)),  # Friday → make-up Sunday
        (date(2026, 9, 30), date(2026, 10, 8)),  # across 10-01..10-07
        (date(2026, 10, 9), date(2026, 10, 10)),  # Friday → make-up Saturday
    ],
)
def test_working_days_around_national_day(start: date, end: date) -> None:
    assert CALENDAR.add_working_days(start, 1).day == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 2, 6), date(2026, 2, 24)),  # lands 02-16, a holiday: moves
        (date(2026, 2, 18), date(2026, 2, 28)),  # lands on a make-up Saturday: stays
        (date(2026, 2, 19), date(2026, 3, 2)),  # lands on an ordinary Sunday: moves
        (date(2026, 3, 2), date(2026, 3, 12)),  # lands on a Thursday
    ],
)
def test_natural_days_move_off_holidays(start: date, end: date) -> None:
    assert CALENDAR.add_natural_days(start, 10) == WorkdayResult(end, False)


def test_fallback_across_year_end_is_flagged() -> None:
    assert not CALENDAR.knows_year(2027)
    assert CALENDAR.source_for(date(2027, 1, 1)) == "fallback"
    # Fallback: 2027-01-01 is a Friday, so it is counted as a working day.
    result = CALENDAR.add_working_days(date(2026, 12, 29), 7)
    assert result == WorkdayResult(date(2027, 1, 7), True)


def test_fallback_treats_weekends_as_holidays() -> None:
    assert CALENDAR.is_working_day(date(2027, 1, 8))  # Friday
    assert not CALENDAR.is_working_day(date(2027, 1, 9))  # Saturday
    assert CALENDAR.add_natural_days(date(2026, 12, 30), 10).fallback_used


def test_override_file_for_2027_takes_precedence() -> None:
    calendar = WorkCalendar(FILE_2027)
    assert calendar.knows_year(2027)
    result = calendar.add_working_days(date(2026, 12, 29), 7)
    assert result == WorkdayResult(date(2027, 1, 8), False)
    # The make-up Saturday counts; unlisted days of a loaded year follow the ordinary week.
    assert calendar.add_working_days(date(2027, 1, 7), 2) == WorkdayResult(date(2027, 1, 9), False)
    assert calendar.source_for(date(2027, 3, 1)) == "override"
    assert not calendar.is_working_day(date(2027, 3, 6))


def test_override_beats_package_for_2026() -> None:
    calendar = WorkCalendar({date(2026, 10, 10): False})
    assert calendar.source_for(date(2026, 10, 10)) == "override"
    assert calendar.source_for(date(2026, 10, 9)) == "package"
    assert calendar.add_working_days(date(2026, 10, 9), 1).day == date(2026, 10, 12)


def test_known_years() -> None:
    assert CALENDAR.knows_year(2026)
    assert not CALENDAR.knows_year(2003)


@pytest.mark.parametrize("n", [0, -1])
def test_period_must_be_positive(n: int) -> None:
    with pytest.raises(ValueError):
        CALENDAR.add_working_days(date(2026, 3, 2), n)
    with pytest.raises(ValueError):
        CALENDAR.add_natural_days(date(2026, 3, 2), n)


GOOD_JSON = """\ufeff{
  "year": 2027,
  "holidays": ["2027-01-01..2027-01-03", "2027-02-06"],
  "workdays": ["2027-01-09"]
}"""

GOOD_CSV = """# 2027 notice
date,kind
2027-01-01..2027-01-03, holiday
2027-02-06，休

2027-01-09,Workday  # make-up Saturday
"""


@pytest.mark.parametrize("text", [GOOD_JSON, GOOD_CSV])
def test_parse_good_files(text: str) -> None:
    assert parse_holiday_file(text) == {**FILE_2027, date(2027, 2, 6): False}


def test_parsed_file_drives_the_calendar() -> None:
    calendar = WorkCalendar(parse_holiday_file(GOOD_CSV))
    assert calendar.add_working_days(date(2026, 12, 31), 1) == WorkdayResult(
        date(2027, 1, 4), False
    )


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{"year": 2027,\n "holidays": [\n  "2027-01-01",\n]}', 4, "not valid JSON"),
        ('{"year": 2027,\n "holidays": [\n  "2027-13-01"\n]}', 3, "not a date"),
        ('{"year": 2027,\n "holidays": ["2027-01-01",\n  "2026-12-31"]}', 3, "not in 2027"),
        (
            '{"year": 2027,\n "holidays": ["2027-01-01..2027-01-03"],\n'
            ' "workdays": [\n  "2027-01-02"]}',
            4,
            "both a holiday and a workday",
        ),
        ('{"year": 2027,\n "holiday": ["2027-01-01"]}', 2, "unknown key 'holiday'"),
        ('{"year": "2027",\n "holidays": ["2027-01-01"]}', 1, '"year" must be a number'),
        ('{"year": 2027,\n "workdays": "2027-01-09"}', 2, "must be a list"),
        ('{"year": 2027,\n "holidays": [\n 20270101]}', 3, "not a quoted date"),
        ("2027-01-01,holiday\n2027-01-02\n", 2, "expected 'date,kind'"),
        ("2027-01-01,holiday\n2027-01-02,holiday,extra\n", 2, "expected 'date,kind'"),
        ("\n\n2027-01-01,vacation\n", 3, "must be holiday or workday"),
        ("2027-1-1,holiday\n", 1, "not a date"),
        ("2027-02-30,holiday\n", 1, "not a date"),
        ("2027-01-01,holiday\n2027-01-05..2027-01-03,holiday\n", 2, "ends before it starts"),
        ("2027-01-01..2028-12-31,holiday\n", 1, "longer than a year"),
        ("2027-01-01..2027-01-03,holiday\n# note\n2027-01-02,workday\n", 3, "both a holiday"),
    ],
)
def test_parse_bad_lines(text: str, line: int, reason: str) -> None:
    with pytest.raises(HolidayFileError) as caught:
        parse_holiday_file(text)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"line {line}: ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# nothing yet\n\n", "lists no dates"),
        ('{"year": 2027, "holidays": []}', "lists no dates"),
        ('{"holidays": ["2027-01-01"]}', 'missing "year"'),
    ],
)
def test_parse_bad_whole_files(text: str, reason: str) -> None:
    with pytest.raises(HolidayFileError) as caught:
        parse_holiday_file(text)
    assert caught.value.line is None
    assert reason in str(caught.value)
