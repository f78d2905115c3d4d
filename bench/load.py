"""Load the real stack at fixed arrival rates, sustained then a spike; check nothing acknowledged is lost.

    .venv/bin/python bench/load.py                                  # 600 s sustained + 60 s spike, SQLite
    .venv/bin/python bench/load.py --duration 20 --spike-duration 10
    .venv/bin/python bench/load.py --nginx --queue-budget-ms 1000 --photo-rate 2 --plain-rate 18   # shedding
    bash .ci/with-postgres.sh .venv/bin/python bench/load.py --db both --duration 20 --spike-duration 10

gunicorn serves wsgi:app on 127.0.0.1 over a fresh database loaded with `kuaisu db upgrade` and
`kuaisu demo`: a SQLite file (WAL, synchronous=FULL, as the app configures it), then a new
database on the PostgreSQL of --pg or KUAISU_TEST_DATABASE_URL. Virtual shoppers arrive on an
open model (visit i due at t0 + i/rate, latency from that due time, so a slow server cannot
hide its queue): each opens a merchant's poster page, posts a complaint (a share with 1-3
real JPEGs), and opens the receipt the redirect points to. The demo staff sign in (password,
then a one-time code from the key `kuaisu demo` prints) and poll their boards meanwhile.

All load comes from one address, so the per-IP submission limit is lifted for the bench
(KUAISU_RATELIMIT_PUBLIC_IP, as bench/shopper.py does); the per-phone-and-poster limit keeps
its configured value and every shopper has a phone of its own. Limits live in a throwaway
redis-server when one is installed, as with several workers in production.

With --nginx, Debian's nginx (unprivileged, config in the run's temp dir, a free loopback
port) stands in front as docs/deploy.md sets it up: it stamps X-Request-Start, and the app
answers 503 + Retry-After to what waited longer than --queue-budget-ms. The report counts every
429/503 and whether it carried Retry-After, and how each phase's shoppers fared.

After each run: acknowledged receipts == stored complaints, receipts show the stored case
number, no duplicates, photos stored, `kuaisu audit verify`. The kill-loop and backup/restore
figures come from bench/kill_loop.py and bench/backup_restore.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen.checks import Check, after_run
from bench.loadgen.drive import Rates, drive
from bench.loadgen.http import Upload
from bench.loadgen.photos import photo_set
from bench.loadgen.report import cpu_line, table, verdict
from bench.loadgen.servers import Workers, kuaisu
from bench.loadgen.shopper import Ledger, ShopperPlan
from bench.loadgen.stack import bench_env, fresh_database, seed, serving
from bench.loadgen.stats import RunStats


def parse_args() -> argparse.Namespace:
    """Read the rates, lengths, server settings and databases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add(
        "--db",
        choices=["sqlite", "pg", "both"],
        default=None,
        help="default: sqlite, and pg when a URL is given",
    )
    add(
        "--pg",
        default=os.environ.get("KUAISU_TEST_DATABASE_URL"),
        help="PostgreSQL URL (a new database is made)",
    )
    add("--duration", type=float, default=600.0, help="seconds of sustained load")
    add("--spike", type=float, default=3.0, help="multiple of the shoppers' rates during the spike")
    add("--spike-duration", type=float, default=60.0, help="seconds of spike (0: none)")
    add("--photo-rate", type=float, default=10.0, help="shoppers per second who attach photos")
    add("--plain-rate", type=float, default=200.0, help="shoppers per second without photos")
    add("--board-rate", type=float, default=4.0, help="board polls per second, all staff together")
    add(
        "--photos", type=int, nargs=2, default=(1, 3), metavar=("MIN", "MAX"), help="photos per photo shopper"
    )
    add("--twelve-mp", action="store_true", help="attach 12 MP camera JPEGs instead of phone-sized ones")
    add(
        "--photos-in-background",
        action="store_true",
        help="KUAISU_PHOTOS_IN_BACKGROUND=1: photos are cleaned after the run by `kuaisu photos process`",
    )
    add("--worker-class", default="gthread", choices=["sync", "gthread"])
    add("--workers", type=int, default=4, help="as docs/deploy.md: 4 workers x 4 threads, --preload")
    add("--threads", type=int, default=4)
    add("--timeout", type=float, default=30.0, help="client timeout per request, seconds")
    add(
        "--retries",
        type=int,
        default=2,
        help="times a shopper sends the same form again after 429/5xx/timeout",
    )
    add(
        "--max-inflight",
        type=int,
        default=5000,
        help="visits running at once before the client drops arrivals",
    )
    add("--limits", choices=["redis", "memory"], default="redis", help="rate-limit storage")
    add(
        "--nginx",
        action="store_true",
        help="serve through nginx as docs/deploy.md does (X-Request-Start) and shed past --queue-budget-ms",
    )
    add("--queue-budget-ms", type=int, default=500, help="KUAISU_QUEUE_BUDGET_MS with --nginx; 0: none")
    args = parser.parse_args()
    if args.db is None:
        args.db = "both" if args.pg else "sqlite"
    if args.db != "sqlite" and not args.pg:
        parser.error("PostgreSQL needs --pg URL or KUAISU_TEST_DATABASE_URL (bash .ci/with-postgres.sh ...)")
    return args


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_one(kind: str, args: argparse.Namespace, photos: list[Upload]) -> tuple[RunStats, list[Check]]:
    """Seed a fresh database of one kind, serve it, load it, stop it, check it, print it."""
    tmp = Path(tempfile.mkdtemp(prefix=f"kuaisu-load-{kind}-"))
    workers = Workers(args.worker_class, args.workers, args.threads, preload=True)
    rates = Rates(
        args.photo_rate,
        args.plain_rate,
        args.board_rate,
        args.duration,
        args.spike,
        args.spike_duration,
        tuple(args.photos),
    )
    ledger = Ledger()
    try:
        with fresh_database(kind, tmp, args.pg) as url:
            seeded = seed(kind, url, bench_env(url, tmp, secrets.token_hex(32)))
            if args.photos_in_background:
                seeded.env["KUAISU_PHOTOS_IN_BACKGROUND"] = "1"
            budget = args.queue_budget_ms if args.nginx else None
            with serving(seeded, workers, tmp, args.limits, budget) as (server, env):
                front = "" if budget is None else f"nginx in front, queue budget {budget or 'off'} ms; "
                print(
                    f"\n== {kind}: {front}{workers.describe()}; rate limits in "
                    f"{env.get('KUAISU_RATELIMIT_STORAGE_URI', 'memory://')}; load average {load_average()}"
                )
                plan = ShopperPlan(server.port, seeded.poster_paths, photos, args.timeout, args.retries)
                run = asyncio.run(drive(server, seeded.logins, plan, rates, ledger, args.max_inflight))
            if args.photos_in_background:
                started = time.monotonic()
                said = kuaisu(env, "photos", "process").stdout.strip()
                print(
                    f"photo backlog after the run: `kuaisu photos process` took "
                    f"{time.monotonic() - started:.1f} s: {said}"
                )
            checks = after_run(url, env, ledger)
        print(f"load average after the run: {load_average()}")
        print("\n".join([*table(run.phases), cpu_line(run)]))
        print("after-run checks:")
        print("\n".join(check.line() for check in checks))
        return run, checks
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    """Run on each database in turn and end with the summary tables and the targets' verdict."""
    args = parse_args()
    photos = photo_set(max(args.photos[1], 1), args.twelve_mp)
    kinds = {"sqlite": ["sqlite"], "pg": ["postgresql"], "both": ["sqlite", "postgresql"]}[args.db]
    print(
        f"{os.cpu_count()} CPUs, load average {load_average()}; sustained {args.duration:g} s at "
        f"{args.photo_rate:g}/s with {args.photos[0]}-{args.photos[1]} photos + "
        f"{args.plain_rate:g}/s without, "
        f"board polls {args.board_rate:g}/s; spike {args.spike:g}x for {args.spike_duration:g} s; photos "
        f"{', '.join(f'{len(p.data) // 1024} KiB' for p in photos)}"
    )
    results = {kind: run_one(kind, args, photos) for kind in kinds}
    print("\n==== summary ====")
    for kind, (run, checks) in results.items():
        print(f"\n{kind}:")
        print("\n".join([*table(run.phases), cpu_line(run)]))
        print("targets:")
        print("\n".join(verdict(run.phases, checks)))
    print(f"\nload average at the end: {load_average()} (other processes on this machine slow every figure)")


if __name__ == "__main__":
    main()
