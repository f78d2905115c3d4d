"""A complaint's page with the abuse and duplicate signals, over a million complaints.

Seeds like bench/backoffice.py, then gives one phone 400 complaints in the last 7 days (a
professional claimant across many shops, with duplicates at the busy ones). Measures the case
page of an ordinary case and of the claimant's case, with the signals and without them (the
same app with merchants.cases.case_signals stubbed out), so the figures compare in one run:

    bash .ci/with-postgres.sh .venv/bin/python bench/signals.py [--complaints 1000000]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from sqlalchemy import Engine, create_engine, select, update

import merchants.cases
from bench.databases import each_database, sign_in
from bench.seed_cases import NOW, seed
from merchants.signals import CaseSignals
from portal import create_app
from portal.migrate import upgrade
from portal.models import Complaint

CLAIMANT = "13900000000"
BURST = 400


def claimant(engine: Engine) -> tuple[list[str], list[str]]:
    """Give BURST cases of the last 7 days one phone; return its case numbers and ordinary ones."""
    with engine.begin() as conn:
        recent = list(
            conn.execute(
                select(Complaint.id).where(Complaint.created_at >= NOW - timedelta(days=7))
            ).scalars()
        )
        rng = random.Random(5)
        chosen = rng.sample(recent, min(BURST, len(recent) // 2))
        conn.execute(
            update(Complaint).where(Complaint.id.in_(chosen)).values(phone=CLAIMANT, phone_last4="0000")
        )
        theirs = list(conn.execute(select(Complaint.case_number).where(Complaint.id.in_(chosen))).scalars())
        ordinary = list(
            conn.execute(
                select(Complaint.case_number).where(Complaint.id % 997 == 0, Complaint.phone != CLAIMANT)
            ).scalars()
        )
    return theirs, ordinary


def measure(app: Flask, user_id: int, numbers: list[str], rounds: int) -> tuple[float, float]:
    """Return p50 and p95 in ms of the case page over random numbers (five warm-up requests)."""
    client, rng, times = sign_in(app, user_id), random.Random(11), []
    for attempt in range(rounds + 5):
        start = time.perf_counter()
        response = client.get(f"/office/complaints/{rng.choice(numbers)}")
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"case page gave {response.status_code}")
        if attempt >= 5:
            times.append(elapsed)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def rows(app: Flask, user_id: int, theirs: list[str], ordinary: list[str], rounds: int) -> Iterator[str]:
    """Yield one printed line per page and signals setting."""
    real = merchants.cases.case_signals
    for label, stub in (("with signals", False), ("signals stubbed", True)):
        merchants.cases.case_signals = (lambda *_a: CaseSignals()) if stub else real  # type: ignore[assignment]
        try:
            for page, numbers in (("ordinary case", ordinary), ("claimant's case", theirs)):
                p50, p95 = measure(app, user_id, numbers, rounds)
                yield f"{page:18} {label:16} {p50:7.1f} {p95:7.1f}"
        finally:
            merchants.cases.case_signals = real


def run(label: str, url: str, n: int, rounds: int) -> None:
    """Migrate, seed, add the claimant, measure and print one database."""
    upgrade(url)
    started = time.perf_counter()
    engine = create_engine(url)
    seeded = seed(engine, n)
    theirs, ordinary = claimant(engine)
    engine.dispose()
    print(
        f"\n{label}: seeded {n:,} complaints, {BURST} from one phone in 7 days, in "
        f"{time.perf_counter() - started:.0f} s"
    )
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "UPLOAD_DIR": tempfile.mkdtemp(),
        }
    )
    print(f"{'page (city regulator)':18} {'':16} {'p50 ms':>7} {'p95 ms':>7}")
    for line in rows(app, seeded.users["city regulator"], theirs, ordinary, rounds):
        print(line, flush=True)
    app.extensions["kuaisu.engine"].dispose()


def main() -> None:
    """Parse arguments and run SQLite, then PostgreSQL if a server is given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    each_database(lambda label, url: run(label, url, args.complaints, args.rounds), prefix="kuaisu-bench")


if __name__ == "__main__":
    main()
