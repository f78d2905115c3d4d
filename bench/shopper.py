"""Benchmark the shopper's path under gunicorn beside a bare baseline app; prints, never asserts.

    .venv/bin/python bench/shopper.py                 # the chosen server settings
    .venv/bin/python bench/shopper.py --worker-class sync --workers 3 --duration 6

Everything runs on 127.0.0.1 against a temporary SQLite database (WAL, synchronous=FULL, as
the app configures it) loaded with `kuaisu db upgrade` and `kuaisu demo`. The load client is
our own: asyncio with raw HTTP/1.1 over keep-alive connections (reconnecting when the server
closes, as gunicorn's sync worker does after every response). Fixed-rate phases use an open
model: request i is due at t0 + i/rate and its latency counts from that due time, so a slow
server cannot slow the client down and hide its queue (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen.http import CSRF, Connection, hidden, multipart  # noqa: E402
from bench.loadgen.photos import twelve_megapixel_jpeg  # noqa: E402
from bench.loadgen.servers import Server, Workers, gunicorn, kuaisu, redis_server  # noqa: E402

TARGETS = {
    "form_bytes": 14 * 1024,
    "p99_ms_at_200": 50.0,
    "form_ratio": 0.5,
    "posts_per_s": 300.0,
    "post_ratio": 0.4,
    "sanitise_ms": 150.0,
}


@dataclass
class Run:
    """What one load phase measured."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0
    cpu_ms: float = float("nan")
    client_cpu_ms: float = float("nan")

    def add(self, status: int, latency_s: float) -> None:
        """Record one answered request."""
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies_ms.append(latency_s * 1000)

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return len(self.latencies_ms) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        """Return the q-th percentile latency in ms."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


Sender = Callable[[Connection, int], Awaitable[int]]


async def fixed_rate(
    port: int,
    send: Sender,
    rate: float,
    seconds: float,
    pool: int = 64,
    prepare: Callable[[Connection], Awaitable[None]] | None = None,
) -> Run:
    """Open model: request i is due at t0 + i/rate; latency counts from that due time."""
    loop = asyncio.get_running_loop()
    conns: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        conn = Connection(port)
        if prepare is not None:
            await prepare(conn)
        conns.put_nowait(conn)
    run, tasks = Run(), []

    async def one(index: int, due: float) -> None:
        conn = await conns.get()
        try:
            status = await send(conn, index)
            run.add(status, loop.time() - due)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            run.errors += 1
            conn.close()
        finally:
            conns.put_nowait(conn)

    start = loop.time()
    total = int(rate * seconds)
    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    _done, late = await asyncio.wait(tasks, timeout=15)
    for task in late:  # bounded in time: what is still queued counts as an error
        task.cancel()
    run.errors += len(late)
    run.elapsed = max(loop.time() - start, seconds)
    while not conns.empty():
        conns.get_nowait().close()
    return run


async def saturate(
    port: int,
    send: Sender,
    seconds: float,
    concurrency: int,
    prepare: Callable[[Connection], Awaitable[None]] | None = None,
) -> Run:
    """Closed model at full speed: `concurrency` clients each send as soon as answered."""
    loop = asyncio.get_running_loop()
    run = Run()
    conns = [Connection(port) for _ in range(concurrency)]
    if prepare is not None:
        for conn in conns:
            await prepare(conn)
    counter = iter(range(10**9))
    start = loop.time()
    stop = start + seconds

    async def client(conn: Connection) -> None:
        while loop.time() < stop:
            sent = loop.time()
            try:
                status = await send(conn, next(counter))
                run.add(status, loop.time() - sent)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                run.errors += 1
                conn.close()

    await asyncio.gather(*(client(conn) for conn in conns))
    run.elapsed = loop.time() - start
    for conn in conns:
        conn.close()
    return run


# --- what the shopper sends ----------------------------------------------------------------


class Shopper:
    """Per connection: open the form once (cookie + CSRF token), then post fresh complaints."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.state: dict[int, tuple[str, str]] = {}

    async def prepare(self, conn: Connection) -> None:
        """Fetch the form like a browser and keep its session cookie and CSRF token."""
        reply = await conn.request("GET", self.path)
        token = hidden(CSRF, reply.body)
        cookie = "; ".join(f"{name}={value}" for name, value in reply.cookies.items())
        if reply.status != 200 or token is None or not cookie:
            raise RuntimeError(f"cannot open the form: {reply.status}")
        self.state[id(conn)] = (cookie, token)

    async def post(self, conn: Connection, _index: int) -> int:
        """Send one complaint with a fresh idempotency key and phone."""
        cookie, token = self.state[id(conn)]
        body, content_type = multipart(
            {
                "csrf_token": token,
                "idem": secrets.token_urlsafe(24),
                "kind": "complaint",
                "category": "quality",
                "description": "买的瓷砖有裂纹，商家拒绝退换，态度很差。",
                "amount": "128.50",
                "wish": "refund",
                "phone": f"139{random.randrange(10**8):08d}",
                "name": "李女士",
                "consent": "y",
                "website": "",
            }
        )
        reply = await conn.request("POST", self.path, {"Cookie": cookie, "Content-Type": content_type}, body)
        return reply.status


def getter(path: str) -> Sender:
    """Return a sender that GETs one path."""

    async def send(conn: Connection, _index: int) -> int:
        return (await conn.request("GET", path)).status

    return send


def poster(path: str) -> Sender:
    """Return a sender that POSTs an empty form to one path (the baseline insert)."""

    async def send(conn: Connection, _index: int) -> int:
        return (
            await conn.request("POST", path, {"Content-Type": "application/x-www-form-urlencoded"}, b"x=1")
        ).status

    return send


# --- servers -------------------------------------------------------------------------------


def count_rows(db: Path, table: str) -> int:
    """Count rows of a table in the SQLite file (read-only, WAL-aware)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        found: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return found


# --- photos --------------------------------------------------------------------------------


def sanitise_times(runs: int) -> tuple[list[float], int]:
    """Time portal.uploads.sanitise on a 12 MP JPEG; return ms per run and the input size."""
    from portal.uploads import sanitise

    raw = twelve_megapixel_jpeg()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sanitise(raw, max_pixels=50_000_000, max_bytes=20 * 1024 * 1024)
        times.append((time.perf_counter() - start) * 1000)
    return times, len(raw)


# --- the run -------------------------------------------------------------------------------


def line(label: str, run: Run) -> str:
    """Format one phase's figures."""
    statuses = ",".join(f"{code}x{n}" for code, n in sorted(run.statuses.items()))
    return (
        f"  {label:<34} {run.rate:7.1f} req/s  p50 {run.pct(50):7.1f} ms  p99 {run.pct(99):7.1f} ms  "
        f"server CPU {run.cpu_ms:5.2f} ms/req (client {run.client_cpu_ms:4.2f})  "
        f"[{statuses}{f', errors {run.errors}' if run.errors else ''}]"
    )


async def timed(server: Server, phase: Awaitable[Run]) -> Run:
    """Run a phase and charge it the server's (and this client's) CPU time per answered request."""
    before, client_before = server.cpu_seconds(), time.process_time()
    run = await phase
    answered = max(len(run.latencies_ms), 1)
    run.cpu_ms = (server.cpu_seconds() - before) * 1000 / answered
    run.client_cpu_ms = (time.process_time() - client_before) * 1000 / answered
    return run


def verdict(ok: bool) -> str:
    """Say whether a target was met."""
    return "meets target" if ok else "MISSES target"


async def measure(
    args: argparse.Namespace, app: Server, base: Server, form_path: str, db: Path, base_db: Path
) -> dict[str, float]:
    """Run every load phase, one server at a time, and print the figures."""
    figures: dict[str, float] = {}
    first = await Connection(app.port).request("GET", form_path)
    figures["form_bytes"] = len(first.body)
    print(
        f"form first response: {len(first.body)} bytes of HTML+CSS (status {first.status}, "
        f"target <= {TARGETS['form_bytes']}) -> {verdict(len(first.body) <= TARGETS['form_bytes'])}"
    )

    await saturate(app.port, getter(form_path), 1.5, args.concurrency)  # warm up
    await saturate(base.port, getter("/tpl"), 1.5, args.concurrency)
    print("\nGET, fixed arrival rate (open model, latency from the due time):")
    app_fixed = await timed(app, fixed_rate(app.port, getter(form_path), args.rate, args.duration))
    base_fixed = await timed(base, fixed_rate(base.port, getter("/tpl"), args.rate, args.duration))
    print(line(f"form GET /c/<code> at {args.rate}/s", app_fixed))
    print(line(f"baseline GET /tpl at {args.rate}/s", base_fixed))
    print(f"\nGET at saturation (closed model, {args.concurrency} connections):")
    app_sat = await timed(app, saturate(app.port, getter(form_path), args.duration, args.concurrency))
    base_sat = await timed(base, saturate(base.port, getter("/tpl"), args.duration, args.concurrency))
    print(line("form GET /c/<code>", app_sat))
    print(line("baseline GET /tpl", base_sat))
    figures.update(
        p99_at_200=app_fixed.pct(99),
        form_rate=app_sat.rate,
        tpl_rate=base_sat.rate,
        form_cpu=app_sat.cpu_ms,
        tpl_cpu=base_sat.cpu_ms,
    )

    print(
        f"\nPOST at saturation (closed model, {args.post_concurrency} connections; multipart, no photo; "
        f"{args.rounds} rounds, each server in turn, so a slow spell of this machine hits both):"
    )
    shopper = Shopper(form_path)
    rounds: list[tuple[float, float, Run, Run]] = []
    seconds, clients = args.duration, args.post_concurrency
    for number in range(1, args.rounds + 1):
        before = count_rows(db, "complaint")
        posting = saturate(app.port, shopper.post, seconds, clients, prepare=shopper.prepare)
        post_sat = await timed(app, posting)
        stored = (count_rows(db, "complaint") - before) / post_sat.elapsed
        base_before = count_rows(base_db, "row")
        base_post = await timed(base, saturate(base.port, poster("/insert"), seconds, clients))
        inserted = (count_rows(base_db, "row") - base_before) / base_post.elapsed
        rounds.append((stored, inserted, post_sat, base_post))
        print(line(f"{number}: complaint POST /c/<code>", post_sat))
        print(line(f"{number}: baseline POST /insert", base_post))
        ratio = stored / inserted
        print(f"  {number}: stored {stored:.1f} complaints/s vs {inserted:.1f} rows/s = {ratio:.2f}x")
    # The round with the median ratio speaks for the run; every round is printed above.
    stored, inserted, post_sat, base_post = sorted(rounds, key=lambda r: r[0] / r[1])[len(rounds) // 2]
    figures.update(posts=stored, inserts=inserted, post_cpu=post_sat.cpu_ms, insert_cpu=base_post.cpu_ms)
    print(
        f"  median round: {stored:.1f} complaints/s; baseline {inserted:.1f} rows/s "
        f"(ratios {', '.join(f'{r[0] / r[1]:.2f}' for r in rounds)})"
    )

    print(f"\nPOST at a fixed {args.post_rate}/s (open model):")
    post_fixed = await timed(
        app,
        fixed_rate(app.port, shopper.post, args.post_rate, args.duration, pool=32, prepare=shopper.prepare),
    )
    print(line(f"complaint POST at {args.post_rate}/s", post_fixed))
    return figures


def main() -> None:
    """Set up, start both servers, measure, and print the figures with ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=int, default=200, help="fixed GET arrival rate per second")
    parser.add_argument("--post-rate", type=int, default=100, help="fixed POST arrival rate")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--post-concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating POST saturation rounds")
    parser.add_argument("--photo-runs", type=int, default=7)
    parser.add_argument(
        "--limits",
        choices=["redis", "memory"],
        default="redis",
        help="rate-limit storage (redis when redis-server is installed)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kuaisu-bench-"))
    db, base_db = tmp / "kuaisu.db", tmp / "baseline.db"
    env = {
        "KUAISU_DATABASE_URL": f"sqlite:///{db}",
        "KUAISU_SECRET_KEY": secrets.token_hex(32),
        "KUAISU_UPLOAD_DIR": str(tmp / "uploads"),
        "KUAISU_BASE_URL": "http://127.0.0.1:8000",
        "KUAISU_RATELIMIT_PUBLIC_IP": "10000000 per minute",
        "KUAISU_RATELIMIT_SUBMIT_PHONE": "10000000 per hour",
        "BASELINE_DATABASE_URL": f"sqlite:///{base_db}",
    }
    try:
        kuaisu(env, "db", "upgrade")
        kuaisu(env, "demo")
        from bench.baseline_app import create_schema

        create_schema(env["BASELINE_DATABASE_URL"])
        rows = json.loads(kuaisu(env, "merchants", "list", "--json").stdout)
        shop = next(row for row in rows if row["kind"] == "merchant")
        form_path = urllib.parse.urlsplit(shop["poster_url"]).path
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(
            f"gunicorn {args.worker_class}, {args.workers} workers"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            + f", {os.cpu_count()} CPUs, {args.duration:g} s per phase; form {form_path} ({shop['name']})"
        )
        with redis_server(tmp) as redis_uri:
            if redis_uri and args.limits == "redis":
                env["KUAISU_RATELIMIT_STORAGE_URI"] = redis_uri
            print(f"rate-limit storage: {env.get('KUAISU_RATELIMIT_STORAGE_URI', 'memory://')}")
            workers = Workers(args.worker_class, args.workers, args.threads)
            with (
                gunicorn("wsgi:app", env, workers, "/healthz", tmp) as app,
                gunicorn("bench.baseline_app:app", env, workers, "/tpl", tmp) as base,
            ):
                figures = asyncio.run(measure(args, app, base, form_path, db, base_db))
        times, size = sanitise_times(args.photo_runs) if args.photo_runs else ([float("nan")], 0)
        median = statistics.median(times)
        print(
            f"\nphoto sanitise, 4000x3000 JPEG q90 ({size // 1024} KiB), {len(times)} runs: median "
            f"{median:.0f} ms (min {min(times):.0f}, max {max(times):.0f}); target <= 150 ms "
            f"-> {verdict(median <= TARGETS['sanitise_ms'])}"
        )
        form_ratio = figures["form_rate"] / max(figures["tpl_rate"], 1e-9)
        post_ratio = figures["posts"] / max(figures["inserts"], 1e-9)
        print("\nsummary:")
        print(
            f"  form bytes          {figures['form_bytes']:.0f} B   (<= 14336)      "
            f"{verdict(figures['form_bytes'] <= TARGETS['form_bytes'])}"
        )
        print(
            f"  form p99 at {args.rate}/s    {figures['p99_at_200']:.1f} ms  (< 50 ms)      "
            f"{verdict(figures['p99_at_200'] < TARGETS['p99_ms_at_200'])}"
        )
        print(
            f"  form saturation     {figures['form_rate']:.0f}/s = {form_ratio:.2f}x bare template "
            f"({figures['tpl_rate']:.0f}/s; >= 0.5x)  {verdict(form_ratio >= TARGETS['form_ratio'])}"
        )
        print(
            f"  complaints stored   {figures['posts']:.0f}/s (>= 300/s) = {post_ratio:.2f}x bare insert "
            f"({figures['inserts']:.0f}/s; >= 0.4x)  "
            f"{verdict(figures['posts'] >= TARGETS['posts_per_s'] and post_ratio >= TARGETS['post_ratio'])}"
        )
        print(
            f"  photo sanitise      {median:.0f} ms (<= 150 ms)  {verdict(median <= TARGETS['sanitise_ms'])}"
        )
        cpus = os.cpu_count() or 1
        print(
            f"  server CPU per request: form {figures['form_cpu']:.2f} ms vs template "
            f"{figures['tpl_cpu']:.2f} ms ({figures['tpl_cpu'] / figures['form_cpu']:.2f}x); complaint "
            f"{figures['post_cpu']:.2f} ms vs insert {figures['insert_cpu']:.2f} ms "
            f"({figures['insert_cpu'] / figures['post_cpu']:.2f}x); CPU-bound ceiling on {cpus} cores: "
            f"{cpus * 1000 / figures['post_cpu']:.0f} complaints/s"
        )
        print(
            f"  load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
            "(other processes on this machine slow every figure above)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
