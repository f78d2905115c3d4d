"""What the database benches share: SQLite then a fresh PostgreSQL database, and a signed-in client."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def each_database(measure: Callable[[str, str], None], *, prefix: str, sqlite: bool = True) -> None:
    """Call measure(label, url) on a fresh SQLite file, then on a fresh database of the test server."""
    if sqlite:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp:
            measure("SQLite", f"sqlite:///{tmp}/bench.db")
    pg = os.environ.get("KUAISU_TEST_DATABASE_URL")
    if not pg:
        print("\nPostgreSQL skipped: run under .ci/with-postgres.sh to measure it too.")
        return
    name = f"{prefix.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        measure("PostgreSQL", make_url(pg).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sign_in(app: Flask, user_id: int) -> FlaskClient:
    """Return a client carrying a signed-in session for the account."""
    from merchants.sessions import session_payload
    from portal.db import new_session, utcnow
    from portal.models import User

    client = app.test_client()
    with app.app_context():
        db = new_session()
        user = db.get(User, user_id)
        assert user is not None
        payload = session_payload(user, utcnow())
        db.close()
    with client.session_transaction() as cookie:
        cookie.update({"_user_id": str(user_id), "_fresh": True, **payload})
    return client
