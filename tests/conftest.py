"""Fixtures: a fresh migrated database per test (SQLite or PostgreSQL), app, client, factories."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from portal import create_app
from portal.migrate import upgrade
from tests.factories import Factory

PG_URL = os.environ.get("KUAISU_TEST_DATABASE_URL", "")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, a Monday


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate one template database per run; each test copies it."""
    if PG_URL:
        name = f"kuaisu_tpl_{uuid.uuid4().hex[:8]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        upgrade(str(make_url(PG_URL).set(database=name)))
        return name
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


def _pg_admin(statement: str) -> None:
    """Run a statement on the maintenance database outside a transaction."""
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


@pytest.fixture
def database_url(template_db: str, tmp_path: Path) -> Iterator[str]:
    """Give the test its own database, copied from the migrated template."""
    if PG_URL:
        name = f"kuaisu_t_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = tmp_path / "kuaisu.db"
    shutil.copyfile(template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Return the test settings; tests may change them before `app` is built."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "BULK_DIR": str(tmp_path / "bulk"),
        "BASE_URL": "https://ks.example.cn",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": True,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """Build the app for one test."""
    application = create_app(app_config)
    yield application
    application.extensions["kuaisu.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client."""
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """Return a session on the test database, outside any request."""
    from portal.db import new_session

    with app.app_context():
        db_session = new_session()
        yield db_session
        db_session.close()


@pytest.fixture
def factory(session: Session) -> Factory:
    """Return the record factory: make_unit, make_market, make_merchant, make_complaint."""
    return Factory(session, NOW)


@pytest.fixture
def detached_session(app: Flask) -> Iterator[Session]:
    """Return a session that leaves no app context pushed, so every request gets its own `g`.

    The `session` fixture keeps an app context open; requests made meanwhile share its `g`
    (one database session for all of them, Babel's cached locale). A module that checks
    per-request behaviour overrides `session` with this one.
    """
    from portal.db import new_session

    with app.app_context():
        db_session = new_session()
    yield db_session
    db_session.close()


@pytest.fixture
def smtp_sink() -> Iterator[Any]:
    """Run a real SMTP server on 127.0.0.1 that keeps what it receives (tests/notify_servers.py)."""
    from tests.notify_servers import SmtpSink

    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def robot_endpoint() -> Iterator[Any]:
    """Run a real group-robot webhook on 127.0.0.1 that records posts and can fail or hang."""
    from tests.notify_servers import RobotEndpoint

    endpoint = RobotEndpoint()
    endpoint.start()
    yield endpoint
    endpoint.stop()

