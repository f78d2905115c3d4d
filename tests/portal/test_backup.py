"""Backups taken under write load restore with the same rows, a clean database and intact chains."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.audit import verify_chains
from portal.backup import backup, restore, row_counts
from portal.db import new_session
from portal.migrate import check_at_head
from tests.conftest import NOW, PG_URL, _pg_admin
from tests.factories import Factory


def _restore_target(tmp_path: Path) -> str:
    if PG_URL:
        name = f"kuaisu_restore_{uuid.uuid4().hex[:8]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'restored.db'}"


def test_backup_under_write_load_restores_consistently(app: Flask, tmp_path: Path) -> None:
    url = app.config["DATABASE_URL"]
    with app.app_context():
        seed = new_session()
        merchant = Factory(seed, NOW).make_merchant()
        merchant_id = merchant.id
        seed.close()
        stop, ready = threading.Event(), threading.Event()
        written: list[int] = []

        def writer() -> None:
            with app.app_context():
                while not stop.is_set() and len(written) < 400:
                    session = new_session(write=True)
                    factory = Factory(session, NOW)
                    from portal.models import Merchant

                    factory.make_complaint(session.get(Merchant, merchant_id))
                    written.append(1)
                    session.close()
                    if len(written) >= 20:
                        ready.set()

        threads = [threading.Thread(target=writer) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert ready.wait(timeout=120)
        result = backup(url, app.config["UPLOAD_DIR"], tmp_path / "bk", NOW)
        stop.set()
        for thread in threads:
            thread.join()

    target = _restore_target(tmp_path)
    counts = restore(tmp_path / "bk", target, str(tmp_path / "restored_uploads"))
    if result.counts:
        assert counts == result.counts
    assert counts["complaint"] >= 20
    assert counts["event"] >= counts["complaint"]
    engine = create_engine(target)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    check_at_head(engine, target)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        checked, broken = verify_chains(session, "test-secret-key-0123456789abcdef")
    engine.dispose()
    assert broken is None
    assert checked == counts["event"]
    assert row_counts(target) == counts


def test_restore_refuses_to_overwrite_without_force(app: Flask, tmp_path: Path) -> None:
    import pytest

    from portal.backup import BackupError

    backup(app.config["DATABASE_URL"], app.config["UPLOAD_DIR"], tmp_path / "bk", NOW)
    if PG_URL:
        # The source database is populated: pg_restore without --clean must refuse.
        with pytest.raises(BackupError, match="pg_restore"):
            restore(tmp_path / "bk", app.config["DATABASE_URL"], str(tmp_path / "u"))
        return
    path = tmp_path / "existing.db"
    sqlite3.connect(path).close()
    with pytest.raises(BackupError, match="--force"):
        restore(tmp_path / "bk", f"sqlite:///{path}", str(tmp_path / "u"))
