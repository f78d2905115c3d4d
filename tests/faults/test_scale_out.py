"""Two app hosts over one database and one Redis keep the shared guarantees."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.models import Complaint
from tests.factories import Factory
from tests.faults.gunicorn_server import gunicorn
from tests.faults.redis_server import redis_server
from tests.faults.shopper_client import Outcome, fetch_form, submit_until_acknowledged

SECRET = "test-secret-key-0123456789abcdef"


def _env(database_url: str, redis_url: str, tmp_path: Path, phone_limit: str) -> dict[str, str]:
    return {
        "KUAISU_DATABASE_URL": database_url,
        "KUAISU_SECRET_KEY": SECRET,
        "KUAISU_UPLOAD_DIR": str(tmp_path / "uploads"),
        "KUAISU_BASE_URL": "http://127.0.0.1",
        "KUAISU_RATELIMIT_STORAGE_URI": redis_url,
        "KUAISU_RATELIMIT_PUBLIC_IP": "100000 per minute",
        "KUAISU_RATELIMIT_SUBMIT_PHONE": phone_limit,
    }


def _post_once(port: int, code: str, idem: str, phone: str) -> int:
    """Post one fresh form and return the status, without retrying."""
    import http.client
    import urllib.parse

    token, cookie = fetch_form(port, code, threading.Event())
    body = urllib.parse.urlencode(
        {
            "csrf_token": token,
            "idem": idem,
            "kind": "complaint",
            "category": "quality",
            "description": "两台主机共享限流的测试投诉内容。",
            "phone": phone,
            "consent": "y",
        }
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        f"/c/{code}",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status != 429 or response.getheader("Retry-After")
    return response.status


def test_rate_limit_is_shared_across_two_hosts(database_url: str, factory: Factory, tmp_path: Path) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    with redis_server(tmp_path) as redis_url:
        env = _env(database_url, redis_url, tmp_path, "4 per hour")
        with gunicorn(env, workers=2) as (port_a, _a), gunicorn(env, workers=2) as (port_b, _b):
            statuses = [
                _post_once(port, code, f"shared-limit-{n}", "13800138000")
                for n, port in enumerate([port_a, port_b] * 3)
            ]
    # Four per phone and merchant across BOTH hosts; per-process memory would allow 4 each.
    assert statuses[:4] == [303] * 4
    assert statuses[4:] == [429, 429]


def test_two_hosts_store_every_acknowledged_case_once(
    database_url: str, factory: Factory, tmp_path: Path
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    outcome = Outcome()
    with redis_server(tmp_path) as redis_url:
        env = _env(database_url, redis_url, tmp_path, "100000 per hour")
        with gunicorn(env, workers=2) as (port_a, _a), gunicorn(env, workers=2) as (port_b, _b):

            def shopper(client: int) -> None:
                for n in range(25):
                    port = port_a if (client + n) % 2 else port_b
                    submit_until_acknowledged(
                        port, code, f"two-hosts-{client}-{n:03d}", f"1370000{client:02d}{n:02d}", outcome
                    )

            threads = [threading.Thread(target=shopper, args=(c,)) for c in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    engine = create_engine(database_url)
    with Session(engine) as session:
        keys = set(session.scalars(select(Complaint.idempotency_key)))
        assert keys == set(outcome.acknowledged)
        assert session.scalar(select(func.count()).select_from(Complaint)) == 100
        assert verify_chains(session, SECRET)[1] is None
    engine.dispose()
