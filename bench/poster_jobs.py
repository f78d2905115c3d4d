"""Does bulk printing slow the shoppers' form? GET /c/<code> under gunicorn, idle vs two jobs.

Seeds a SQLite database with two markets of 2,000 shops each, serves it with gunicorn as
`make run` does (2 workers, 4 threads), and measures the complaint form's latency idle, then
while two regulators' 2,000-poster jobs run in the background exactly as the web app starts
them (`kuaisu posters run-job`, nice +10, one core each). Prints p50/p95 and the ratio.

    .venv/bin/python bench/poster_jobs.py [--shops 2000] [--requests 300] [--fmt pdf|zip]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.creditcode import check_character  # noqa: E402
from portal.db import new_session  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Market, Merchant, PosterCode, PosterJob, RegulatorUnit, User  # noqa: E402
from portal.poster_jobs import create_job  # noqa: E402
from portal.poster_runner import start_in_background  # noqa: E402
from portal.posters import BulkScope  # noqa: E402
from portal.register import new_poster_code  # noqa: E402

NOW = datetime.now(UTC)


def seed(config: dict[str, str], shops: int) -> tuple[list[str], list[int], int]:
    """Create a unit, two markets of `shops` merchants, a regulator; return codes, markets, user."""
    app = create_app(config)
    with app.app_context(), new_session(write=True) as session:
        unit = RegulatorUnit(name="潞州区市场监督管理局", level="district", created_at=NOW)
        session.add(unit)
        session.flush()
        markets = []
        for number in range(2):
            market = Market(
                name=f"第{number + 1}农贸市场",
                address="太行东街88号",
                unit_id=unit.id,
                station_name="维权站",
                station_phone="0355-2021234",
                created_at=NOW,
            )
            session.add(market)
            session.flush()
            session.add(PosterCode(code=new_poster_code(), market_id=market.id, created_at=NOW))
            markets.append(market)
            for index in range(shops):
                body = f"91140402MA{number}{index:06d}"
                merchant = Merchant(
                    name=f"张记瓷砖{number}-{index}号店",
                    address="A区12号",
                    phone="13935501201",
                    category="food",
                    credit_code=body + check_character(body),
                    market_id=market.id,
                    unit_id=unit.id,
                    signed_commitment=True,
                    created_at=NOW,
                )
                session.add(merchant)
                session.flush()
                session.add(PosterCode(code=new_poster_code(), merchant_id=merchant.id, created_at=NOW))
        user = User(
            username="bench",
            display_name="bench",
            password_hash="x",
            role="regulator",
            unit_id=unit.id,
            created_at=NOW,
        )
        session.add(user)
        session.commit()
        codes = list(session.scalars(select(PosterCode.code).where(PosterCode.merchant_id.is_not(None))))
        ids = [market.id for market in markets]
        user_id = user.id
    app.extensions["kuaisu.engine"].dispose()
    return codes, ids, user_id


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start gunicorn as `make run` does and wait until it answers."""
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def measure(
    port: int, codes: list[str], requests: int, clients: int = 2, until: threading.Event | None = None
) -> list[float]:
    """GET the form of random shops from a few clients; return each latency in ms."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        done = 0
        while done < requests // clients or (until is not None and not until.is_set()):
            url = f"http://127.0.0.1:{port}/c/{random.choice(codes)}"
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
            done += 1
            time.sleep(0.02)  # a shopper at a time, not a flood

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def percentiles(values: list[float]) -> tuple[float, float]:
    """Return p50 and p95."""
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[94]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=2000, help="shops per market (per job)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--fmt", choices=("pdf", "zip"), default="pdf")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kuaisu-bench-"))
    config = {
        "DATABASE_URL": f"sqlite:///{folder / 'kuaisu.db'}",
        "BULK_DIR": str(folder / "bulk"),
        "BASE_URL": "https://ks.example.cn",
        "SECRET_KEY": secrets.token_hex(32),
        "UPLOAD_DIR": str(folder / "uploads"),
    }
    upgrade(config["DATABASE_URL"])
    codes, markets, user_id = seed(config, args.shops)
    env = {**os.environ, **{f"KUAISU_{key}": value for key, value in config.items()}}
    port = free_port()
    server = serve(env, port)
    try:
        measure(port, codes, 40)  # warm up both workers
        idle = measure(port, codes, args.requests)
        app = create_app(config)
        with app.app_context(), new_session(write=True) as session:
            tokens = [
                create_job(
                    session,
                    requester_id=user_id,
                    scope=BulkScope("market", (market,)),
                    layout="A4",
                    fmt=args.fmt,
                    now=NOW,
                ).token
                for market in markets
            ]
            session.commit()
        started = time.perf_counter()
        for token in tokens:
            start_in_background(token, app.config)
        finished = threading.Event()
        ends: dict[str, float] = {}

        def watch() -> None:
            while len(ends) < len(tokens):
                with app.app_context(), new_session() as session:
                    for job in session.scalars(select(PosterJob).where(PosterJob.token.in_(tokens))):
                        if job.status in ("done", "failed") and job.token not in ends:
                            ends[job.token] = time.perf_counter() - started
                            print(
                                f"job {job.token[:8]}: {job.status} {job.done}/{job.total} "
                                f"in {ends[job.token]:.1f} s {job.error or ''}"
                            )
                time.sleep(0.5)
            finished.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        busy = measure(port, codes, args.requests, until=finished)
        watcher.join()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)
    idle50, idle95 = percentiles(idle)
    busy50, busy95 = percentiles(busy)
    total = 2 * (args.shops + 1)
    print(f"form GET idle:        p50 {idle50:6.1f} ms  p95 {idle95:6.1f} ms  ({len(idle)} requests)")
    print(f"form GET during jobs: p50 {busy50:6.1f} ms  p95 {busy95:6.1f} ms  ({len(busy)} requests)")
    print(f"ratio busy/idle:      p50 {busy50 / idle50:.2f}x  p95 {busy95 / idle95:.2f}x")
    print(
        f"two {args.fmt} jobs, {total} posters in {max(ends.values()):.1f} s "
        f"({total / max(ends.values()):.0f} posters/s; nice +10, SCHED_IDLE, one core each)"
    )


if __name__ == "__main__":
    main()
