"""Insight speed with a year of complaints: dashboard p95, and the cached disclosure under gunicorn.

Run on SQLite and PostgreSQL in one go (the wrapper starts a throwaway PostgreSQL):

    bash .ci/with-postgres.sh .venv/bin/python bench/insight.py [--complaints 1000000]

Without KUAISU_TEST_DATABASE_URL only SQLite is measured. The disclosure load comes from wrk
(apt-get install wrk). Prints figures; asserts nothing.

To seed once and measure again and again (e.g. before and after a change), name a database
that is kept (a SQLite file, or a PostgreSQL database you created): the first run seeds it,
later ones with --reuse only measure:

    .venv/bin/python bench/insight.py --url URL --reuse --no-disclosure
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from bench.databases import each_database, sign_in  # noqa: E402
from bench.insight_seed import Seeded, reused, seed  # noqa: E402
from portal import create_app  # noqa: E402
from portal.db import utcnow  # noqa: E402
from portal.i18n import SHANGHAI  # noqa: E402
from portal.migrate import upgrade  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"


def dashboards(app: Flask, seeded: Seeded, rounds: int) -> None:
    """Time the dashboard pages through the whole Flask stack; print p50 and p95."""
    today = utcnow().astimezone(SHANGHAI).date()
    year = f"start={today - timedelta(days=364)}&end={today}"
    cases = [
        ("dashboard, district, last 30 days", "district regulator", "/office/insight"),
        ("dashboard, one market (filter)", "district regulator", f"/office/insight?market={seeded.market}"),
        ("dashboard, one market (station)", "station", "/office/insight"),
        ("dashboard, district, 12 months", "district regulator", f"/office/insight?{year}"),
        ("dashboard, whole city, 30 days", "city regulator", "/office/insight"),
        (
            "cases behind 'late reply', district",
            "district regulator",
            "/office/insight/cases?metric=respond_late",
        ),
    ]
    # CPU time is this process's own work (on SQLite, nearly all of it); the machine may be shared.
    print(f"{'page':38} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'cpu p50':>8} {'cpu p95':>8}")
    for name, who, url in cases:
        client = sign_in(app, seeded.users[who])
        assert client.get(url).status_code == 200, url
        times, cpu = [], []
        for _ in range(rounds):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 200
        print(
            f"{name:38} {_p(times, 50):7.1f} {_p(times, 95):7.1f} {max(times):7.1f} "
            f"{_p(cpu, 50):8.1f} {_p(cpu, 95):8.1f}",
            flush=True,
        )


def _p(values: list[float], percent: int) -> float:
    """Return the nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * percent // 100) - 1)]


def _cpu_seconds(parent: int) -> float:
    """Return the user+system CPU seconds of a process's children (the gunicorn workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def disclosure_load(url: str, workers: int, seconds: int) -> None:
    """Serve the app with gunicorn, warm each worker's cache, then load the page with wrk."""
    port = _free_port()
    env = {
        **os.environ,
        "KUAISU_DATABASE_URL": url,
        "KUAISU_SECRET_KEY": SECRET,
        "KUAISU_ENV_NAME": "production",
        "KUAISU_BASE_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    month = (utcnow().astimezone(SHANGHAI).date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    page = f"http://127.0.0.1:{port}/public/disclosure?month={month}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        started = time.perf_counter()
        with urllib.request.urlopen(page, timeout=120) as response:
            size = len(response.read())
        print(
            f"disclosure {month}: first (uncached) request {1000 * (time.perf_counter() - started):.0f} ms,"
            f" {size:,} bytes"
        )
        # Every worker computes once per TTL; fill them all before measuring.
        warm = subprocess.run(
            ["wrk", "-t1", "-c8", "-d5s", page], capture_output=True, text=True, timeout=300, check=False
        )
        del warm
        cpu_before = _cpu_seconds(server.pid)
        result = subprocess.run(
            ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", page],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        cpu_used = _cpu_seconds(server.pid) - cpu_before
        rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
        p99 = re.search(r"99%\s+(\S+)", result.stdout)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
        done = re.search(r"(\d+) requests in", result.stdout)
        per_cpu = int(done.group(1)) / cpu_used if done and cpu_used else 0
        print(
            f"disclosure cached, gunicorn -w {workers}, wrk -t2 -c64 -d{seconds}s: "
            f"{float(rate.group(1)) if rate else 0:,.0f} requests/s, p99 {p99.group(1) if p99 else '?'}, "
            f"non-2xx {errors.group(1) if errors else 0}; workers served {per_cpu:,.0f} requests "
            f"per CPU-second; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def rebuild_facts(app: Flask, skip_vacuum: bool) -> None:
    """Recount the day tables, as `kuaisu insight rebuild` does after a bulk load."""
    from portal.db import new_session
    from portal.facts_upkeep import rebuild
    from portal.insight_cli import vacuum_facts

    with app.app_context():
        started = time.perf_counter()
        with new_session(write=True) as session:
            cases = rebuild(session)
            session.commit()
        print(f"kuaisu insight rebuild: {cases:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
        if not skip_vacuum:
            # As `kuaisu insight rebuild` does (and autovacuum would, some time later).
            started = time.perf_counter()
            vacuum_facts(app.extensions["kuaisu.engine"])
            print(f"VACUUM ANALYZE of the facts tables: {time.perf_counter() - started:.1f} s", flush=True)


def run(label: str, url: str, args: argparse.Namespace) -> None:
    """Migrate, seed (unless reused), measure and print one database."""
    upgrade(url)
    started = time.perf_counter()
    engine = create_engine(url)
    seeded = reused(engine) if args.reuse else None
    rebuild_tables = seeded is None or args.rebuild
    if seeded is None:
        seeded = seed(engine, args.complaints, utcnow())
        print(
            f"\n{label}: seeded {args.complaints:,} complaints over 12 months (+events, stage clocks) "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    else:
        print(f"\n{label}: reusing the seeded database", flush=True)
    engine.dispose()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "UPLOAD_DIR": tempfile.mkdtemp(),
            "NOTIFY_KICK": False,
        }
    )
    # The seed writes rows directly, past the ORM: recount the day tables as after a bulk load.
    if rebuild_tables:
        rebuild_facts(app, args.no_vacuum)
    dashboards(app, seeded, args.rounds)
    app.extensions["kuaisu.engine"].dispose()
    if args.no_disclosure:
        return
    if shutil.which("wrk"):
        disclosure_load(url, args.workers, args.seconds)
    else:
        print("disclosure load skipped: apt-get install wrk")


def main() -> None:
    """Parse arguments and run SQLite, then PostgreSQL if a server is given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--skip-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--url", help="measure this database only (kept afterwards), e.g. to --reuse it")
    parser.add_argument("--reuse", action="store_true", help="skip seeding and rebuild if --url is seeded")
    parser.add_argument("--rebuild", action="store_true", help="with --reuse: rebuild the tables anyway")
    parser.add_argument("--no-vacuum", action="store_true", help="leave the rebuilt tables to autovacuum")
    parser.add_argument("--no-disclosure", action="store_true", help="skip the gunicorn disclosure load")
    args = parser.parse_args()
    if args.url:
        run("SQLite" if args.url.startswith("sqlite") else "PostgreSQL", args.url, args)
        return
    each_database(
        lambda label, url: run(label, url, args), prefix="kuaisu-insight", sqlite=not args.skip_sqlite
    )


if __name__ == "__main__":
    main()
