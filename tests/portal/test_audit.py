"""`kuaisu audit verify` checks every chain and names the first event edited outside the app."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.cli import cli
from portal.models import Complaint, Event
from tests.conftest import NOW
from tests.factories import Factory
from tests.portal.sweeping import sweep_at


def _unguard(session: Session) -> None:
    """Switch off the append-only guard, as someone with the database's keys could."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE event DISABLE TRIGGER event_no_update"))
    else:
        session.execute(text("DROP TRIGGER event_no_update"))
        session.execute(text("DROP TRIGGER event_no_delete"))
    session.commit()


def _cases(factory: Factory, app: Flask) -> list[Complaint]:
    merchant = factory.make_merchant()
    cases = [factory.make_complaint(merchant).complaint for _ in range(3)]
    sweep_at(app, NOW + timedelta(minutes=50))  # reminders, urges, escalations in every chain
    return cases


def test_an_untouched_database_verifies(app: Flask, factory: Factory) -> None:
    _cases(factory, app)
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 12 events verified")


def test_an_edited_row_is_named(app: Flask, session: Session, factory: Factory) -> None:
    cases = _cases(factory, app)
    target = session.scalars(
        select(Event).where(Event.complaint_id == cases[1].id, Event.kind == "escalated")
    ).one()
    _unguard(session)
    # Someone moves the escalation to the merchant's rung, hoping nobody notices.
    session.execute(
        text("UPDATE event SET data = :data WHERE id = :id"),
        {"data": '{"from": "merchant", "to": "merchant"}', "id": target.id},
    )
    session.commit()
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert (
        f"BROKEN: case {cases[1].case_number} seq {target.seq} event {target.id}: "
        "content does not match its hash"
    ) in result.output


def test_a_deleted_row_is_named(app: Flask, session: Session, factory: Factory) -> None:
    cases = _cases(factory, app)
    reminder = session.scalars(
        select(Event).where(Event.complaint_id == cases[2].id, Event.kind == "reminder")
    ).one()
    _unguard(session)
    session.execute(text("DELETE FROM event WHERE id = :id"), {"id": reminder.id})
    session.commit()
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"case {cases[2].case_number} seq {reminder.seq + 1}" in result.output
    assert "sequence gap: expected 2" in result.output


def test_anonymising_a_case_keeps_its_chain(app: Flask, session: Session, factory: Factory) -> None:
    cases = _cases(factory, app)
    # Personal data lives in the case's columns; the chain holds only salted hashes of bodies.
    session.execute(
        text("UPDATE complaint SET phone = NULL, phone_last4 = NULL, name = NULL WHERE id = :id"),
        {"id": cases[0].id},
    )
    session.commit()
    assert app.test_cli_runner().invoke(cli, ["audit", "verify"]).exit_code == 0


def kuaisu(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `kuaisu` command in its own process, as cron or systemd would."""
    env = {
        **os.environ,
        "KUAISU_DATABASE_URL": database_url,
        "KUAISU_SECRET_KEY": "test-secret-key-0123456789abcdef",
    }
    command = [str(Path(sys.executable).parent / "kuaisu"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_installed_commands(session: Session, factory: Factory, database_url: str) -> None:
    complaint = factory.make_complaint().complaint
    swept = kuaisu(database_url, "sla", "sweep", "--now", "2026-11-23T14:46:00+08:00")
    assert swept.returncode == 0, swept.stderr
    assert f"{complaint.case_number} escalated respond@merchant\n" in swept.stdout  # within grace
    assert kuaisu(database_url, "sla", "sweep", "--now", "2026-11-23T06:46:00Z").stdout.startswith(
        "sweep: nothing due"
    )
    verified = kuaisu(database_url, "audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("ok: 4 events verified")
    _unguard(session)
    session.execute(text("UPDATE event SET actor_role = 'station' WHERE seq = 1"))
    session.commit()
    broken = kuaisu(database_url, "audit", "verify")
    assert broken.returncode == 1
    assert f"BROKEN: case {complaint.case_number} seq 1" in broken.stderr
