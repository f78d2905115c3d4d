"""SIGKILL gunicorn workers in a loop while shoppers submit: every acknowledged case stored once."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.models import Complaint
from tests.factories import Factory
from tests.faults.gunicorn_server import gunicorn, kill_workers
from tests.faults.shopper_client import Outcome, submit_until_acknowledged

SECRET = "test-secret-key-0123456789abcdef"
CLIENTS, PER_CLIENT, KILL_EVERY = 4, 50, 6


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KUAISU_DATABASE_URL": database_url,
        "KUAISU_SECRET_KEY": SECRET,
        "KUAISU_UPLOAD_DIR": str(tmp_path / "uploads"),
        "KUAISU_BASE_URL": "http://127.0.0.1",
        "KUAISU_RATELIMIT_PUBLIC_IP": "100000 per minute",
        "KUAISU_RATELIMIT_SUBMIT_PHONE": "100000 per hour",
    }


def test_killed_workers_lose_and_duplicate_nothing(
    database_url: str, factory: Factory, tmp_path: Path
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    outcome, done, kills = Outcome(), threading.Event(), []
    with gunicorn(_env(database_url, tmp_path), workers=2) as (port, proc):
        killer = threading.Thread(
            target=kill_workers, args=(proc.pid, lambda: len(outcome.acknowledged), done, kills, KILL_EVERY)
        )
        killer.start()

        def shopper(client: int) -> None:
            for n in range(PER_CLIENT):
                submit_until_acknowledged(
                    port, code, f"kill-{client}-{n:03d}-padding-key", f"1390000{client:02d}{n:02d}", outcome
                )

        shoppers = [threading.Thread(target=shopper, args=(c,)) for c in range(CLIENTS)]
        for thread in shoppers:
            thread.start()
        for thread in shoppers:
            thread.join()
        done.set()
        killer.join()

    assert len(kills) >= 20
    assert outcome.retries > 0
    engine = create_engine(database_url)
    with Session(engine) as session:
        stored = dict(session.execute(select(Complaint.idempotency_key, Complaint.case_number)).all())
        assert session.scalar(select(func.count()).select_from(Complaint)) == len(stored)
        assert set(stored) == set(outcome.acknowledged)
        assert len(set(stored.values())) == len(stored) == CLIENTS * PER_CLIENT
        checked, broken = verify_chains(session, SECRET)
        assert broken is None and checked >= len(stored)
        if engine.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    engine.dispose()
