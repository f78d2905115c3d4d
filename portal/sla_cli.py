"""`kuaisu sla sweep`, `kuaisu audit verify` and `kuaisu calendar load`: the clocks' commands."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.audit import verify_chains
from portal.db import get_engine, new_session, utcnow
from portal.holidays import load_calendar, loaded_years
from portal.models import Complaint
from portal.sweep import run_sweep, sweep_workers
from portal.sweeplock import sweep_lock
from portal.workdays import HolidayFileError, parse_holiday_file


def _aware(value: str | None) -> datetime:
    """Parse --now; a time without an offset is refused, since UTC must never be guessed."""
    if value is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not ISO-8601, e.g. 2026-11-23T06:45:00Z") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-11-23T06:45:00Z or 2026-11-23T14:45+08:00")
    return moment


@click.group("sla", cls=AppGroup)
def sla() -> None:
    """Stage clocks: reminder and urge cards, escalations."""


@sla.command("sweep")
@click.option("--now", "now_text", help="Sweep as of this moment (ISO-8601 with an offset).")
@click.option("--quiet", is_flag=True, help="Print only the totals.")
def sweep_command(now_text: str | None, quiet: bool) -> None:
    """Issue every card and escalation due now, exactly once, and print what was done."""
    now = _aware(now_text)
    engine = get_engine()
    with sweep_lock(engine) as got:
        if not got:
            click.echo("another sweep is running; this one did nothing")
            return
        report = run_sweep(new_session, now, current_app.config["PHONE_SALT"], workers=sweep_workers(engine))
    if not quiet:
        for line in report.lines:
            click.echo(line)
    click.echo(report.summary())


@click.group("audit", cls=AppGroup)
def audit() -> None:
    """The tamper-evident timeline."""


@audit.command("verify")
def verify_command() -> None:
    """Check every case's hash chain; exit 1 naming the first broken event."""
    with new_session() as session:
        checked, broken = verify_chains(session, current_app.config["PHONE_SALT"])
        if broken is None:
            click.echo(f"ok: {checked} events verified")
            return
        case = session.get(Complaint, broken.complaint_id)
        number = case.case_number if case is not None else f"id {broken.complaint_id}"
    click.echo(f"BROKEN: case {number} seq {broken.seq} event {broken.event_id}: {broken.reason}", err=True)
    click.echo(f"({checked} events before it verified)", err=True)
    sys.exit(1)


@click.group("calendar", cls=AppGroup)
def calendar() -> None:
    """Official holidays and make-up working days."""


@calendar.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_load(file: Path) -> None:
    """Load a year's holidays and make-up working days (JSON or CSV); it beats the package."""
    try:
        days = parse_holiday_file(file.read_text(encoding="utf-8"))
    except HolidayFileError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    with new_session(write=True) as session:
        result = load_calendar(
            session, days, user_id=None, now=utcnow(), salt=current_app.config["PHONE_SALT"]
        )
        session.commit()
        years = loaded_years(session)
    click.echo(
        f"loaded {result.days} days for {', '.join(map(str, result.years))}; "
        f"{result.recomputed} running deadlines recomputed"
    )
    click.echo("years loaded: " + (", ".join(str(y.year) for y in years) or "none"))
