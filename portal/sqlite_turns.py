"""SQLite writers take turns on a file lock, so the write lock passes on without idling.

A writer that finds SQLite's write lock taken waits in SQLite's busy handler, which sleeps
1, 2, 5, 10, 15, 20 and then 25 ms between tries. Under a burst of complaints the lock is
free again after a few milliseconds, but every waiter is still asleep: the database then
spends more time idle than writing. So before `BEGIN IMMEDIATE` a writer first takes its
turn on an flock of a file beside the database (`<database>-writers`), polled every 0.1 to
1 ms, and holds it until its transaction commits or rolls back. The next writer in line
then finds SQLite's lock free. Writers that do not take turns (another program, the sqlite3
shell) still meet SQLite's own lock and busy handler, so correctness never depends on this.

The lock is an flock of an open file: the kernel drops it when the process dies, so a
killed worker cannot leave it held.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from typing import Any

from sqlalchemy.exc import OperationalError

_FIRST_PAUSE = 0.0001
_LONGEST_PAUSE = 0.001


class TurnTakingConnection(sqlite3.Connection):
    """A sqlite3 connection that can hold the writers' turn for one transaction."""

    turn_path: str | None = None
    _turn_fd: int | None = None
    _holding = False

    def take_turn(self, timeout: float) -> None:
        """Wait for the writers' turn, up to `timeout` seconds; a miss is "database is locked"."""
        if self.turn_path is None or self._holding:
            return
        if self._turn_fd is None:
            self._turn_fd = os.open(self.turn_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + timeout
        pause = _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(self._turn_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError(
                        "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
                continue
            self._holding = True
            return

    def end_turn(self) -> None:
        """Let the next writer go."""
        if self._holding and self._turn_fd is not None:
            self._holding = False
            fcntl.flock(self._turn_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        """Commit, then pass the turn on."""
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        """Roll back, then pass the turn on."""
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        """Close the database connection and the turn file."""
        try:
            super().close()
        finally:
            self.end_turn()
            if self._turn_fd is not None:
                os.close(self._turn_fd)
                self._turn_fd = None


def attach(dbapi_connection: Any, database: str | None) -> None:
    """Point a new connection at the turn file of its database (none for in-memory ones)."""
    if isinstance(dbapi_connection, TurnTakingConnection) and database not in (None, "", ":memory:"):
        dbapi_connection.turn_path = f"{database}-writers"
