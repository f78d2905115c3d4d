"""A locked or unavailable database: a 503 that keeps what was typed; the retry stores once."""

from __future__ import annotations

import re
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from portal.models import Complaint
from tests.factories import Factory

FORM = {
    "kind": "complaint",
    "category": "quality",
    "description": "瓷砖有裂纹，商家拒绝退换。",
    "phone": "13800138000",
    "consent": "y",
    "name": "王阿姨",
    "amount": "88",
}


def _hold_write_lock(url: str, locked: threading.Event, release: threading.Event) -> None:
    """Hold the database's write lock (SQLite) or the complaint table (PostgreSQL)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE complaint IN ACCESS EXCLUSIVE MODE"))
        locked.set()
        release.wait(timeout=60)
        conn.rollback()
    engine.dispose()


def test_locked_database_gives_503_keeping_input_and_retry_stores_once(
    app_config: dict[str, Any], factory: Factory
) -> None:
    from portal import create_app

    app_config["DB_LOCK_TIMEOUT_MS"] = 200
    app: Flask = create_app(app_config)
    client: FlaskClient = app.test_client()
    code = factory.poster_of(factory.make_merchant()).code
    data = {**FORM, "idem": "retry-key-0123456789abcdef"}
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(app_config["DATABASE_URL"], locked, release))
    holder.start()
    assert locked.wait(timeout=30)
    try:
        response = client.post(f"/c/{code}", data=data)
    finally:
        release.set()
        holder.join()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    page = response.get_data(as_text=True)
    for value in ("瓷砖有裂纹，商家拒绝退换。", "13800138000", "王阿姨", "retry-key-0123456789abcdef"):
        assert value in page
    kept = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page))
    assert kept["idem"] == "retry-key-0123456789abcdef"

    first = client.post(f"/c/{code}", data=data)
    again = client.post(f"/c/{code}", data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    with app.app_context():
        from portal.db import new_session

        session = new_session()
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
        session.close()
    app.extensions["kuaisu.engine"].dispose()


def test_health_is_503_when_the_database_is_unreachable(app_config: dict[str, Any]) -> None:
    from portal import create_app

    if app_config["DATABASE_URL"].startswith("sqlite"):
        app_config["DATABASE_URL"] = "sqlite:////nonexistent-dir/kuaisu.db"
    else:
        app_config["DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    app = create_app(app_config)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
