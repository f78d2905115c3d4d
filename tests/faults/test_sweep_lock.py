"""One sweep at a time across processes and hosts: PostgreSQL's advisory lock, SQLite's file lock.

A sweep process holds the lock while another host's `kuaisu sla sweep` starts: the second
one does nothing. Once the first lets go, or is killed, the next sweep runs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.db import get_engine
from portal.models import Event
from portal.sweeplock import sweep_lock
from tests.conftest import NOW
from tests.factories import Factory
from tests.faults.gunicorn_server import ROOT

SWEEP_AT = "2026-11-23T06:50:00Z"  # 50 minutes after the cases came in: every card is due


def _hold(url: str, ready: Connection, release: Connection) -> None:
    """Child process: take the sweep lock with an engine of its own, hold it until told."""
    from portal.db import make_engine

    engine = make_engine(url, pooled=False)
    with sweep_lock(engine) as got:
        ready.send(got)
        release.recv()
    engine.dispose()
    os._exit(0)


def _start_holder(url: str) -> tuple[BaseProcess, Connection]:
    """Start a process that holds the lock; return it and the pipe end that releases it."""
    ready_out, ready_in = multiprocessing.Pipe(duplex=False)
    release_out, release_in = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(target=_hold, args=(url, ready_in, release_out))
    process.start()
    assert ready_out.poll(60), "the holder never took the lock"
    assert ready_out.recv() is True
    return process, release_in


def _cli_sweep(url: str, secret: str) -> str:
    """Run `kuaisu sla sweep` as another host would: a separate process with its own engine."""
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "",
        "KUAISU_DATABASE_URL": url,
        "KUAISU_SECRET_KEY": secret,
    }
    kuaisu = str(Path(sys.executable).with_name("kuaisu"))
    done = subprocess.run(
        [kuaisu, "sla", "sweep", "--now", SWEEP_AT, "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _cards(session: Session) -> Counter[str]:
    session.rollback()
    rows = session.execute(select(Event.kind, func.count()).group_by(Event.kind)).all()
    return Counter({kind: n for kind, n in rows if kind in ("reminder", "urge", "escalated")})


def _due_cases(factory: Factory) -> None:
    merchant = factory.make_merchant()
    for _ in range(3):
        factory.make_complaint(merchant, now=NOW)


def test_a_second_host_does_nothing_while_a_sweep_holds_the_lock(
    app: Flask, session: Session, factory: Factory, database_url: str
) -> None:
    _due_cases(factory)
    holder, release = _start_holder(database_url)
    try:
        assert (
            _cli_sweep(database_url, app.config["SECRET_KEY"])
            == "another sweep is running; this one did nothing"
        )
        with sweep_lock(get_engine()) as got:
            assert got is False  # nor may this process take it
        assert _cards(session) == Counter()
    finally:
        release.send("go")
        holder.join(60)
    assert holder.exitcode == 0
    summary = _cli_sweep(database_url, app.config["SECRET_KEY"])
    assert summary == "sweep: 3 escalated, 3 reminder, 3 urge; 9 late; 0 already issued"
    assert _cards(session) == Counter({"reminder": 3, "urge": 3, "escalated": 3})


def test_a_killed_sweep_leaves_no_lock_behind(
    app: Flask, session: Session, factory: Factory, database_url: str
) -> None:
    _due_cases(factory)
    holder, _release = _start_holder(database_url)
    assert _cli_sweep(database_url, app.config["SECRET_KEY"]).startswith("another sweep is running")
    os.kill(holder.pid or 0, signal.SIGKILL)  # no unlock, no cleanup: the OS and the server let go
    holder.join(60)
    assert holder.exitcode == -signal.SIGKILL
    # PostgreSQL ends the dead client's session a moment after its socket closes.
    pause, free = threading.Event(), False
    for _ in range(200):
        with sweep_lock(get_engine()) as got:
            free = got
        if free:
            break
        pause.wait(0.05)  # back-off of the harness while the server notices, not a clock in the app
    assert free
    assert _cli_sweep(database_url, app.config["SECRET_KEY"]).startswith("sweep: 3 escalated")
    assert _cards(session) == Counter({"reminder": 3, "urge": 3, "escalated": 3})


def test_sweeps_started_together_on_three_hosts_issue_each_card_once(
    app: Flask, session: Session, factory: Factory, database_url: str
) -> None:
    _due_cases(factory)
    outputs: list[str] = []
    threads = [
        threading.Thread(target=lambda: outputs.append(_cli_sweep(database_url, app.config["SECRET_KEY"])))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outputs) == 3
    # Whoever held the lock issued the cards; the others either found it taken or, having
    # started after it was let go, found nothing left to do.
    acted = [o for o in outputs if o.startswith("sweep: 3 escalated")]
    assert len(acted) == 1, outputs
    assert all(
        o == acted[0] or o.startswith("another sweep is running") or o.startswith("sweep: nothing due")
        for o in outputs
    )
    assert _cards(session) == Counter({"reminder": 3, "urge": 3, "escalated": 3})
