"""SQLite writers take turns on a file lock, held from BEGIN IMMEDIATE to commit or rollback."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from portal.db import make_engine


def engine(tmp_path: Path, timeout_ms: int = 2_000) -> Engine:
    """A fresh SQLite engine on a file in tmp_path with one table."""
    made = make_engine(f"sqlite:///{tmp_path / 'k.db'}", lock_timeout_ms=timeout_ms)
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return made


def writer(made: Engine) -> Connection:
    """A connection whose transaction takes the write lock (and the writers' turn) up front."""
    return made.connect().execution_options(sqlite_begin="IMMEDIATE")


def turn_is_free(tmp_path: Path) -> bool:
    """Try the writers' turn file from outside, without waiting."""
    fd = os.open(tmp_path / "k.db-writers", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_the_turn_is_held_from_begin_to_the_end_of_the_transaction(tmp_path: Path, end: str) -> None:
    made = engine(tmp_path)
    conn = writer(made)
    conn.begin()
    assert not turn_is_free(tmp_path)
    conn.execute(text("INSERT INTO t VALUES (1)"))
    getattr(conn, end)()
    assert turn_is_free(tmp_path)
    with made.connect() as reading:
        reading.begin()
        reading.execute(text("SELECT count(*) FROM t"))
        assert turn_is_free(tmp_path)  # a deferred (reading) transaction takes no turn
    conn.close()
    made.dispose()


def test_the_next_writer_goes_as_soon_as_the_first_commits(tmp_path: Path) -> None:
    made = engine(tmp_path)
    first, second = writer(made), writer(made)
    first.begin()
    first.execute(text("INSERT INTO t VALUES (1)"))
    started, done = threading.Event(), threading.Event()

    def wait_turn() -> None:
        started.set()
        with second.begin():
            second.execute(text("INSERT INTO t VALUES (2)"))
        done.set()

    thread = threading.Thread(target=wait_turn)
    thread.start()
    started.wait()
    assert not done.wait(0.2)  # still waiting for its turn while the first holds it
    first.commit()
    thread.join(5)
    assert done.is_set()
    with made.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
    first.close(), second.close()
    made.dispose()


def test_a_rollback_passes_the_turn_on(tmp_path: Path) -> None:
    made = engine(tmp_path, timeout_ms=200)
    first, second = writer(made), writer(made)
    first.begin()
    first.execute(text("INSERT INTO t VALUES (1)"))
    first.rollback()
    with second.begin():
        second.execute(text("INSERT INTO t VALUES (2)"))
    with made.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [2]
    first.close(), second.close()
    made.dispose()


def test_no_turn_in_time_is_database_is_locked(tmp_path: Path) -> None:
    made = engine(tmp_path, timeout_ms=100)
    first, second = writer(made), writer(made)
    first.begin()
    with pytest.raises(OperationalError, match="database is locked"):
        second.begin()
    first.rollback()
    first.close(), second.close()
    made.dispose()


def test_readers_do_not_take_turns(tmp_path: Path) -> None:
    made = engine(tmp_path, timeout_ms=100)
    first = writer(made)
    first.begin()
    with made.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    first.rollback()
    first.close()
    made.dispose()


def test_a_killed_process_cannot_keep_the_turn(tmp_path: Path) -> None:
    made = engine(tmp_path, timeout_ms=5_000)
    made.dispose()  # nothing open across the fork
    ready_read, ready_write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child holds the turn, then waits to be killed
        conn = writer(made)
        conn.begin()
        os.write(ready_write, b"x")
        signal.pause()
    os.read(ready_read, 1)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    with writer(made) as conn, conn.begin():
        conn.execute(text("INSERT INTO t VALUES (3)"))
    made.dispose()


def test_a_writer_that_does_not_take_turns_still_meets_sqlites_own_lock(tmp_path: Path) -> None:
    made = engine(tmp_path, timeout_ms=100)
    outsider = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="database is locked"), writer(made) as conn:
        conn.begin()
    outsider.execute("ROLLBACK")
    outsider.close()
    made.dispose()


def test_an_in_memory_database_needs_no_turn_file(tmp_path: Path) -> None:
    made = make_engine("sqlite://")
    with writer(made) as conn, conn.begin():
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    assert not list(tmp_path.iterdir())
    made.dispose()
