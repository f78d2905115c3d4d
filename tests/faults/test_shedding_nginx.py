"""Through a real nginx and gunicorn: queued past the budget is 503 + Retry-After, a flood is 429.

The only gunicorn worker is frozen with SIGSTOP, as if busy; requests sent meanwhile wait in
its backlog behind nginx's X-Request-Start stamp. Once they have waited past every budget the
worker is let go: both are shed before the database, the complaint with what was typed.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select

from portal.models import Complaint
from portal.shedding import FINISHING_FACTOR
from tests.factories import Factory, complaint_form
from tests.faults.gunicorn_server import gunicorn, worker_pids
from tests.faults.nginx_server import Limits, nginx
from tests.faults.shopper_client import TOKEN

BUDGET_MS = 800
ESTABLISHED = "01"


@dataclass(frozen=True)
class Ask:
    """One request to send: where, how, with what."""

    port: int
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def send(self) -> tuple[int, dict[str, str], str]:
        """Send it and return the status, headers and page."""
        return _request(self.port, self.method, self.path, self.body, self.headers)


def _request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def _connections_waiting_on(upstream: int) -> int:
    """Count open TCP connections to 127.0.0.1:upstream (nginx's side), from /proc/net/tcp."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2].endswith(f":{upstream:04X}") and fields[3] == ESTABLISHED:
            count += 1
    return count


def _queue_while_frozen(
    worker: int, upstream: int, requests: list[Ask]
) -> list[tuple[int, dict[str, str], str]]:
    """Freeze the worker, send the requests, let them wait past the budget, thaw; return the answers."""
    answers: list[tuple[int, dict[str, str], str]] = [(0, {}, "")] * len(requests)

    def send(index: int) -> None:
        answers[index] = requests[index].send()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    pause = threading.Event()
    os.kill(worker, signal.SIGSTOP)
    try:
        for thread in threads:
            thread.start()
        while _connections_waiting_on(upstream) < len(requests):
            pause.wait(0.01)
        # nginx stamped each request before it connected upstream; wait until that is past the
        # longest budget (a complaint being sent may wait FINISHING_FACTOR times the budget).
        queued_since = time.time()
        while time.time() < queued_since + BUDGET_MS * FINISHING_FACTOR / 1000 + 0.1:
            pause.wait(0.05)
    finally:
        os.kill(worker, signal.SIGCONT)
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_behind_nginx_a_queued_request_is_shed_and_a_flood_is_limited(
    database_url: str, factory: Factory, tmp_path: Path
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    env = {
        "KUAISU_DATABASE_URL": database_url,
        "KUAISU_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "KUAISU_UPLOAD_DIR": str(tmp_path / "uploads"),
        "KUAISU_BASE_URL": "http://127.0.0.1",
        "KUAISU_TRUSTED_PROXIES": "1",
        "KUAISU_QUEUE_BUDGET_MS": str(BUDGET_MS),
        "KUAISU_RATELIMIT_PUBLIC_IP": "100000 per minute",
    }
    with gunicorn(env, workers=1) as (upstream, master), nginx(upstream) as (port, _nginx_pid):
        # A stamp sent by the client is replaced by nginx's own: the form is served.
        status, headers, page = _request(
            port, "GET", f"/c/{code}", headers={"X-Request-Start": "t=1000000000"}
        )
        assert status == 200
        token = TOKEN.search(page)
        assert token is not None
        cookie = headers["set-cookie"].split(";", 1)[0]
        form = {
            **complaint_form(idem="nginx-shed-0123456789abcdef", name="王阿姨"),
            "csrf_token": token.group(1),
        }
        post = Ask(
            port,
            "POST",
            f"/c/{code}",
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        [worker] = worker_pids(master.pid)
        shed_post, shed_get = _queue_while_frozen(worker, upstream, [post, Ask(port, "GET", f"/c/{code}")])
        assert (shed_post[0], shed_get[0]) == (503, 503)
        assert shed_post[1]["retry-after"] == shed_get[1]["retry-after"] == "5"
        for typed in ("瓷砖有裂纹，商家拒绝退换。", "13800138000", "王阿姨", "nginx-shed-0123456789abcdef"):
            assert typed in shed_post[2]
        assert "系统繁忙" in shed_get[2]

        resent = post.send()
        assert resent[0] == 303

        with nginx(upstream, Limits(rate="1r/m", burst=1)) as (limited, _pid):
            answers = [_request(limited, "GET", "/healthz") for _ in range(3)]
        assert [status for status, _h, _p in answers] == [200, 200, 429]
        assert answers[2][1]["retry-after"] == "5"
        assert "请稍候" in answers[2][2]

    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Complaint)) == 1
    engine.dispose()
