"""SQLite is durable and concurrent: WAL, FULL sync, busy timeout, BEGIN IMMEDIATE for writes."""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from portal import create_app
from portal.db import get_engine, new_session
from portal.migrate import upgrade
from portal.models import Complaint, Event
from tests.conftest import NOW
from tests.factories import Factory, complaint_form


@pytest.fixture
def sqlite_app(app_config: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """Build the app on its own SQLite file, whichever database the suite runs on."""
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    upgrade(url)
    app = create_app({**app_config, "DATABASE_URL": url})
    yield app
    app.extensions["kuaisu.engine"].dispose()


def test_sqlite_pragmas_are_in_effect(sqlite_app: Flask) -> None:
    with sqlite_app.app_context(), get_engine().connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_posts_write_in_a_begin_immediate_transaction(sqlite_app: Flask) -> None:
    with sqlite_app.app_context():
        session = new_session()
        factory = Factory(session, NOW)
        code = factory.poster_of(factory.make_merchant()).code
        session.close()
        engine = get_engine()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        statements.append(" ".join(words[:2]) if words[0] == "BEGIN" else words[0])

    event.listen(engine, "before_cursor_execute", record)
    client = sqlite_app.test_client()
    client.get(f"/c/{code}")
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN DEFERRED"]
    statements.clear()
    assert client.post(f"/c/{code}", data=complaint_form()).status_code == 303
    event.remove(engine, "before_cursor_execute", record)
    # Lookups may read first (no lock); every write happens after BEGIN IMMEDIATE, in one
    # transaction, so the busy handler applies and no deferred reader upgrades to a writer.
    begins = [i for i, s in enumerate(statements) if s.startswith("BEGIN")]
    writes = [i for i, s in enumerate(statements) if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    immediate = statements.index("BEGIN IMMEDIATE")
    assert writes and min(writes) > immediate
    assert begins[-1] == immediate


def _serve(app: Flask) -> tuple[Any, int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


def _submit_over_http(port: int, code: str, phone: str, results: list[Any], start: threading.Barrier) -> None:
    body = urllib.parse.urlencode(complaint_form(phone=phone))
    start.wait()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST", f"/c/{code}", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        response = conn.getresponse()
        results.append((response.status, response.getheader("Location"), response.read()))
    except OSError as exc:  # pragma: no cover - reported by the assertion below
        results.append((0, None, repr(exc).encode()))
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["sqlite", "suite"])
def test_forty_concurrent_submissions_are_all_stored(
    backend: str, sqlite_app: Flask, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # "sqlite" always uses a SQLite file; "suite" uses the suite's database (PostgreSQL in CI).
    target = sqlite_app if backend == "sqlite" else app
    with target.app_context():
        session: Session = new_session()
        factory = Factory(session, NOW)
        code = factory.poster_of(factory.make_merchant()).code
        session.close()
    server, port = _serve(target)
    results: list[Any] = []
    start = threading.Barrier(40)
    threads = [
        threading.Thread(target=_submit_over_http, args=(port, code, f"139{n:08d}", results, start))
        for n in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    server.shutdown()
    assert sorted(status for status, _loc, _body in results) == [303] * 40, [
        body[:200] for status, _loc, body in results if status != 303
    ]
    assert len({loc for _status, loc, _body in results}) == 40
    with target.app_context():
        session = new_session()
        assert session.scalar(select(func.count()).select_from(Complaint)) == 40
        assert session.scalar(select(func.count()).select_from(Event)) == 40
        numbers = sorted(session.scalars(select(Complaint.case_number)))
        session.close()
    assert [int(n[-4:]) for n in numbers] == list(range(1, 41))
    assert len(set(numbers)) == 40 and all(re.fullmatch(r"KS\d{8}-\d{4}", n) for n in numbers)
    assert "database is locked" not in caplog.text
