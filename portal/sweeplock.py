"""One sweep at a time: a PostgreSQL advisory lock across hosts, a file lock beside SQLite."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

# pg_try_advisory_lock key: one sweep at a time across every host of a deployment.
ADVISORY_KEY = 7_513_250_917


@contextmanager
def sweep_lock(engine: Engine) -> Iterator[bool]:
    """Hold the one-sweep-at-a-time lock; yield False when another sweep holds it."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    # Beside the database file, so every process on the host that opens it sees the lock.
    with Path(f"{database}.sweep.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            got = False
        else:
            got = True
        try:
            yield got
        finally:
            if got:
                fcntl.flock(handle, fcntl.LOCK_UN)
