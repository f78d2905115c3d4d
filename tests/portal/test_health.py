"""GET /healthz: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from portal import create_app


def test_healthy(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unreachable_database_is_503(app_config: dict[str, Any], tmp_path: Path) -> None:
    for url in (
        f"sqlite:///{tmp_path / 'missing' / 'dir' / 'kuaisu.db'}",  # cannot be created
        f"sqlite:///{tmp_path}",
    ):  # a directory, not a database file
        app = create_app({**app_config, "DATABASE_URL": url})
        response = app.test_client().get("/healthz")
        app.extensions["kuaisu.engine"].dispose()
        assert response.status_code == 503, url
        assert response.get_json() == {"status": "unavailable"}


def test_database_breaking_while_running_is_503(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    from portal.db import make_engine

    app.extensions["kuaisu.engine"].dispose()
    app.extensions["kuaisu.engine"] = make_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    assert client.get("/healthz").status_code == 503


def test_health_is_not_rate_limited(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "RATELIMIT_PUBLIC_IP": "1 per minute", "RATELIMIT_TRACK": "1 per minute"})
    client = app.test_client()
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))
    app.extensions["kuaisu.engine"].dispose()
