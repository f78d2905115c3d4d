"""Back-office speed with a million complaints: board, complaint page and search, p95 and queries.

Run on SQLite and PostgreSQL in one go (the wrapper starts a throwaway PostgreSQL):

    bash .ci/with-postgres.sh .venv/bin/python bench/backoffice.py [--complaints 1000000]

Without KUAISU_TEST_DATABASE_URL only SQLite is measured. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from bench.databases import each_database, sign_in
from bench.seed_cases import Seeded, seed
from portal import create_app
from portal.migrate import upgrade
from portal.models import Complaint
from portal.repeat_flags import reflag_all
from portal.signals import SignalPolicy

Request = tuple[str, str, dict[str, str] | None]  # method, url, form


def scenarios(app: Flask, seeded: Seeded) -> list[tuple[str, str, Callable[[random.Random], Request]]]:
    """Return (name, who, request maker) for every measured page."""
    engine = app.extensions["kuaisu.engine"]
    with engine.connect() as conn:
        numbers = list(conn.execute(select(Complaint.case_number).where(Complaint.id % 997 == 0)).scalars())
        top = conn.execute(select(Complaint.id).order_by(Complaint.id.desc()).limit(1)).scalar_one()
    rng_ids = lambda r: r.randrange(top // 10, top)  # noqa: E731
    return [
        ("board", "merchant", lambda r: ("GET", "/office/", None)),
        ("board", "station", lambda r: ("GET", "/office/", None)),
        ("board", "office regulator", lambda r: ("GET", "/office/", None)),
        ("board", "city regulator", lambda r: ("GET", "/office/", None)),
        (
            "board page n (green, keyset)",
            "city regulator",
            lambda r: ("GET", f"/office/?colour=green&before={rng_ids(r)}", None),
        ),
        (
            "board page n (green, keyset)",
            "station",
            lambda r: ("GET", f"/office/?colour=green&before={rng_ids(r)}", None),
        ),
        (
            "board filtered (category+kind)",
            "station",
            lambda r: ("GET", "/office/?category=food&kind=complaint", None),
        ),
        (
            "board filtered (last 30 days)",
            "city regulator",
            lambda r: ("GET", "/office/?from=2026-10-24&to=2026-11-23", None),
        ),
        ("board flagged (repeat numbers)", "station", lambda r: ("GET", "/office/?flagged=1", None)),
        ("board flagged (repeat numbers)", "office regulator", lambda r: ("GET", "/office/?flagged=1", None)),
        ("board flagged (repeat numbers)", "city regulator", lambda r: ("GET", "/office/?flagged=1", None)),
        (
            "board flagged page n (green)",
            "city regulator",
            lambda r: ("GET", f"/office/?flagged=1&colour=green&before={rng_ids(r)}", None),
        ),
        (
            "board flagged + category",
            "station",
            lambda r: ("GET", "/office/?flagged=1&category=food", None),
        ),
        ("board updates poll", "station", lambda r: ("GET", f"/office/board/updates?since={top - 5}", None)),
        (
            "complaint page",
            "city regulator",
            lambda r: ("GET", f"/office/complaints/{r.choice(numbers)}", None),
        ),
        ("search case number", "city regulator", lambda r: ("GET", f"/office/?q={r.choice(numbers)}", None)),
        (
            "search phone",
            "city regulator",
            lambda r: ("POST", "/office/board/phone", {"phone": r.choice(seeded.phones)}),
        ),
        (
            "search phone",
            "station",
            lambda r: ("POST", "/office/board/phone", {"phone": r.choice(seeded.phones)}),
        ),
    ]


def measure(app: Flask, seeded: Seeded, rounds: int) -> Iterator[tuple[str, str, float, float, float, int]]:
    """Time each scenario `rounds` times; yield (name, who, p50, p95, max ms, queries/page)."""
    engine = app.extensions["kuaisu.engine"]
    queries: list[int] = [0]

    def count(*_args: Any) -> None:
        queries[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    clients = {who: sign_in(app, uid) for who, uid in seeded.users.items()}
    for name, who, make in scenarios(app, seeded):
        rng, client, times, per_page = random.Random(11), clients[who], [], []
        for attempt in range(rounds + 5):  # the first five warm caches and are not counted
            method, url, form = make(rng)
            queries[0] = 0
            start = time.perf_counter()
            response = client.open(url, method=method, data=form)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{name} as {who}: {url} gave {response.status_code}")
            if attempt >= 5:
                times.append(elapsed)
                per_page.append(queries[0])
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        yield name, who, statistics.median(times), p95, times[-1], max(per_page)
    event.remove(engine, "before_cursor_execute", count)


def run(label: str, url: str, n: int, rounds: int) -> None:
    """Migrate, seed, measure and print one database."""
    upgrade(url)
    started = time.perf_counter()
    engine = create_engine(url)
    seeded = seed(engine, n)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    with Session(engine) as session:
        flagged = reflag_all(session, SignalPolicy())[0]
        session.commit()
    engine.dispose()
    print(
        f"\n{label}: seeded {n:,} complaints (+{n:,} events, 5,000 merchants) in {seconds:.0f} s; "
        f"kuaisu signals reflag flagged {flagged:,} in {time.perf_counter() - started:.1f} s"
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
    print(f"{'page':34} {'as':17} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'queries':>7}")
    for name, who, p50, p95, worst, queries in measure(app, seeded, rounds):
        print(f"{name:34} {who:17} {p50:7.1f} {p95:7.1f} {worst:7.1f} {queries:7d}", flush=True)
    app.extensions["kuaisu.engine"].dispose()


def main() -> None:
    """Parse arguments and run SQLite, then PostgreSQL if a server is given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    each_database(lambda label, url: run(label, url, args.complaints, args.rounds), prefix="kuaisu-bench")


if __name__ == "__main__":
    main()
