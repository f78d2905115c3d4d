"""The stack a load run drives: a fresh database (SQLite file or PostgreSQL), seeded with the demo."""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.loadgen.servers import Server, Workers, gunicorn, kuaisu, redis_server
from bench.loadgen.staff import StaffLogin, demo_logins
from portal.demo import DEMO_PASSWORD
from tests.faults.nginx_server import Limits, nginx

# All load comes from 127.0.0.1, while real shoppers arrive from many addresses: the per-IP
# limit (600/min by default) is lifted for the bench exactly as bench/shopper.py does. The
# tight per-phone-and-poster limit stays as configured; each virtual shopper has its own phone.
BENCH_IP_LIMIT = "10000000 per minute"
# nginx's per-address limit_req is lifted likewise; tests/faults/test_shedding_nginx.py shows its 429.
BENCH_NGINX_LIMITS = Limits(rate="100000r/s", burst=100000)


@dataclass(frozen=True)
class Seeded:
    """A database ready to serve: its URL, the environment for gunicorn and `kuaisu`, what to hit."""

    label: str
    url: str
    env: dict[str, str]
    poster_paths: list[str]
    logins: list[StaffLogin]


@contextmanager
def fresh_database(kind: str, tmp: Path, pg_url: str | None) -> Iterator[str]:
    """Yield the URL of an empty database: a SQLite file in tmp, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'kuaisu.db'}"
        return
    assert pg_url is not None
    name = f"kuaisu_load_{secrets.token_hex(4)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_env(url: str, tmp: Path, secret: str, uploads: str = "uploads") -> dict[str, str]:
    """Return the KUAISU_* settings of a bench server over `url`."""
    return {
        "KUAISU_DATABASE_URL": url,
        "KUAISU_SECRET_KEY": secret,
        "KUAISU_UPLOAD_DIR": str(tmp / uploads),
        "KUAISU_BULK_DIR": str(tmp / "bulk"),
        "KUAISU_BASE_URL": "http://127.0.0.1:8000",
        "KUAISU_RATELIMIT_PUBLIC_IP": BENCH_IP_LIMIT,
    }


def seed(label: str, url: str, env: dict[str, str]) -> Seeded:
    """Migrate, load the demo district, and read back its merchant posters and staff logins."""
    kuaisu(env, "db", "upgrade")
    demo = kuaisu(env, "demo").stdout
    rows = json.loads(kuaisu(env, "merchants", "list", "--json").stdout)
    paths = [urllib.parse.urlsplit(row["poster_url"]).path for row in rows if row["kind"] == "merchant"]
    return Seeded(label, url, env, paths, demo_logins(demo, DEMO_PASSWORD))


@contextmanager
def serving(
    seeded: Seeded, workers: Workers, tmp: Path, limits: str = "redis", queue_budget_ms: int | None = None
) -> Iterator[tuple[Server, dict[str, str]]]:
    """Serve the seeded database with gunicorn, limits in a throwaway Redis when asked and installed.

    With a queue budget, nginx stands in front as docs/deploy.md sets it up (X-Request-Start,
    one trusted proxy) and the app sheds what waited longer; the server's port is then nginx's.
    """
    env = dict(seeded.env)
    with redis_server(tmp) as redis_uri:
        if redis_uri and limits == "redis":
            env["KUAISU_RATELIMIT_STORAGE_URI"] = redis_uri
        if queue_budget_ms is None:
            with gunicorn("wsgi:app", env, workers, "/healthz", tmp) as server:
                yield server, env
            return
        env.update(KUAISU_TRUSTED_PROXIES="1", KUAISU_QUEUE_BUDGET_MS=str(queue_budget_ms))
        with (
            gunicorn("wsgi:app", env, workers, "/healthz", tmp) as server,
            nginx(server.port, BENCH_NGINX_LIMITS) as (port, proxy_pid),
        ):
            yield Server(port, server.pid, proxy_pid), env
