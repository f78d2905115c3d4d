"""Helpers for the clock tests: run the sweep at a moment, read what it left behind."""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import re
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import new_session
from portal.models import Complaint, Event, StageCard, StageClock
from portal.sweep import SweepReport, run_sweep


def sweep_at(app: Flask, when: datetime, batch: int = 500, workers: int = 1) -> SweepReport:
    """Run the sweep in-process with an explicit now, as `kuaisu sla sweep --now` does."""
    with app.app_context():
        return run_sweep(new_session, when, app.config["PHONE_SALT"], batch=batch, workers=workers)


def fresh(session: Session, complaint: Complaint) -> Complaint:
    """Re-read a case after another session committed."""
    session.rollback()
    session.expire_all()
    found = session.get(Complaint, complaint.id)
    assert found is not None
    return found


def kinds(session: Session, complaint: Complaint) -> list[str]:
    """Return the kinds of the case's events, in order."""
    session.rollback()
    return list(
        session.scalars(select(Event.kind).where(Event.complaint_id == complaint.id).order_by(Event.seq))
    )


def events(session: Session, complaint: Complaint, kind: str) -> list[Event]:
    """Return the case's events of one kind."""
    session.rollback()
    return list(
        session.scalars(
            select(Event).where(Event.complaint_id == complaint.id, Event.kind == kind).order_by(Event.seq)
        )
    )


def card_keys(session: Session) -> list[str]:
    """Return every issued card's key."""
    session.rollback()
    return list(session.scalars(select(StageCard.card_key).order_by(StageCard.id)))


def running(session: Session, complaint: Complaint) -> dict[str, StageClock]:
    """Return the case's running clocks by stage."""
    session.rollback()
    rows = session.scalars(
        select(StageClock).where(StageClock.complaint_id == complaint.id, StageClock.stopped_at.is_(None))
    )
    return {clock.stage: clock for clock in rows}


def digest_lines(body: str) -> list[tuple[str, str]]:
    """Return the (case number, what happened) of each line of a digest, markdown or plain."""
    lines = (re.match(r"(?:> )?([A-Z]+[0-9-]+)：(.+)", line) for line in body.splitlines())
    return [(m[1], m[2].split(" · ")[0].split("：")[0]) for m in lines if m]


def start_sweep_child(
    url: str, when: datetime, salt: str, exit_after: int | None = None
) -> multiprocessing.process.BaseProcess:
    """Start a sweep in a forked process with its own engine; exit_after kills it midway."""

    def child() -> None:
        from sqlalchemy.orm import sessionmaker

        import portal.sweep as sweep_module
        from portal.db import make_engine

        if exit_after is not None:
            real_act, calls = sweep_module._act, [0]

            def dying_act(*args, **kwargs):  # type: ignore[no-untyped-def]
                calls[0] += 1
                if calls[0] > exit_after:
                    os._exit(3)  # killed halfway: no commit, no cleanup, no atexit
                return real_act(*args, **kwargs)

            sweep_module._act = dying_act  # type: ignore[assignment]
        engine = make_engine(url, pooled=False)
        run_sweep(sessionmaker(engine, expire_on_commit=False), when, salt, batch=7)
        engine.dispose()
        os._exit(0)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    return process


def sweep_in_child(url: str, when: datetime, salt: str, exit_after: int | None = None) -> int:
    """Sweep in a forked process and return its exit code (3: killed halfway)."""
    process = start_sweep_child(url, when, salt, exit_after)
    process.join(60)
    return process.exitcode if process.exitcode is not None else -1
