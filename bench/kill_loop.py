"""Kill gunicorn workers with SIGKILL while shoppers submit with retries; print what was kept.

    .venv/bin/python bench/kill_loop.py
    bash .ci/with-postgres.sh .venv/bin/python bench/kill_loop.py --db both --clients 4 --per-client 100

The figures behind tests/faults/test_kill_workers.py, on a demo database and with its own
helpers (the same gunicorn, killer and retrying shopper): each client posts a form and, after
any failure, posts the very same form (same idempotency key) until a 303 acknowledges it.
Printed: kills, retries, acknowledged, stored, duplicates, integrity check, `kuaisu audit verify`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.loadgen.servers import kuaisu
from bench.loadgen.stack import bench_env, fresh_database, seed
from tests.faults.gunicorn_server import gunicorn, kill_workers
from tests.faults.shopper_client import Outcome, submit_until_acknowledged


def submit_under_kills(
    env: dict[str, str], code: str, args: argparse.Namespace
) -> tuple[Outcome, int, float]:
    """Run the shoppers against gunicorn while the killer fires; return what they saw, kills, seconds."""
    outcome, done = Outcome(), threading.Event()
    kills: list[int] = []
    started = time.monotonic()
    with gunicorn(env, workers=args.workers) as (port, proc):
        killer = threading.Thread(
            target=kill_workers,
            args=(proc.pid, lambda: len(outcome.acknowledged), done, kills, args.kill_every),
        )
        killer.start()

        def shopper(client: int) -> None:
            for n in range(args.per_client):
                phone = f"139{client:04d}{n:04d}"
                submit_until_acknowledged(port, code, f"kill-{client}-{n:05d}-key", phone, outcome)

        threads = [threading.Thread(target=shopper, args=(c,)) for c in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        killer.join()
    return outcome, len(kills), time.monotonic() - started


def stored_rows(url: str) -> tuple[list[tuple[str, str]], str]:
    """Return every complaint's (form key, case number) and SQLite's integrity check."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [
            (key, number)
            for key, number in conn.execute(text("SELECT idempotency_key, case_number FROM complaint"))
        ]
        integrity = (
            conn.execute(text("PRAGMA integrity_check")).scalar_one()
            if engine.dialect.name == "sqlite"
            else "n/a (PostgreSQL)"
        )
    engine.dispose()
    return rows, str(integrity)


def run(kind: str, args: argparse.Namespace) -> None:
    """Seed, serve, submit under the kill loop, then count and print."""
    tmp = Path(tempfile.mkdtemp(prefix=f"kuaisu-kill-{kind}-"))
    try:
        with fresh_database(kind, tmp, args.pg) as url:
            seeded = seed(kind, url, bench_env(url, tmp, secrets.token_hex(32)))
            code = seeded.poster_paths[0].rsplit("/", 1)[1]
            outcome, kills, elapsed = submit_under_kills(seeded.env, code, args)
            rows, integrity = stored_rows(url)
            verify = kuaisu(seeded.env, "audit", "verify", check=False)
        keys = Counter(key for key, _number in rows)
        acked = set(outcome.acknowledged)
        duplicates = sum(n - 1 for n in keys.values()) + len(rows) - len({number for _k, number in rows})
        lost = acked - set(keys)
        seen = ", ".join(f"{status or 'no answer'} x{n}" for status, n in sorted(outcome.statuses.items()))
        print(
            f"\n{kind}: {args.clients} clients x {args.per_client} complaints, {args.workers} workers, "
            f"a SIGKILL every {args.kill_every} acknowledgements; {elapsed:.1f} s; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(f"  workers killed        {kills}")
        print(f"  submissions retried   {outcome.retries}  (statuses seen: {seen})")
        print(f"  acknowledged          {len(acked)}")
        print(f"  stored                {len(rows)}  (acknowledged and stored {len(acked & set(keys))})")
        print(f"  lost (acked, absent)  {len(lost)}")
        print(f"  stored, never acked   {len(set(keys) - acked)}")
        print(f"  duplicates            {duplicates}")
        print(f"  integrity check       {integrity}")
        print(
            f"  audit verify          {'PASS' if verify.returncode == 0 else 'FAIL'}: "
            f"{(verify.stdout + verify.stderr).strip()}"
        )
        ok = not lost and duplicates == 0 and len(rows) == len(acked) and verify.returncode == 0
        print(f"  verdict               {'PASS' if ok else 'FAIL'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    """Run on SQLite, and on PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default=None)
    parser.add_argument("--pg", default=os.environ.get("KUAISU_TEST_DATABASE_URL"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--per-client", type=int, default=50)
    parser.add_argument("--kill-every", type=int, default=6, help="acknowledgements between kills")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.db = args.db or ("both" if args.pg else "sqlite")
    if args.db != "sqlite" and not args.pg:
        parser.error("PostgreSQL needs --pg URL or KUAISU_TEST_DATABASE_URL")
    for kind in {"sqlite": ["sqlite"], "pg": ["postgresql"], "both": ["sqlite", "postgresql"]}[args.db]:
        run(kind, args)


if __name__ == "__main__":
    main()
