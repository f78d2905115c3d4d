"""Run Debian's nginx in front of a local gunicorn, unprivileged, as docs/deploy.md configures it.

The generated config keeps what matters for load: request buffering, X-Forwarded-For for
ProxyFix (KUAISU_TRUSTED_PROXIES=1), the X-Request-Start stamp the app's queue budget reads,
and a per-address `limit_req` answering 429 with Retry-After. It lives in a temporary
directory and listens on a free 127.0.0.1 port; a missing nginx is an error, never a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.faults.gunicorn_server import free_port

# Same words and pause as the app's own 429 page (portal/errors.py, Retry-After 5).
TOO_MANY_BODY = (
    "<!doctype html><meta charset=utf-8><title>请稍候</title><h1>请稍候</h1><p>请求过多，请稍后再试。</p>"
)
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Limits:
    """nginx's per-address request limit: a rate like '20r/s' and the burst let through at once."""

    rate: str = "20r/s"
    burst: int = 100


def nginx_config(base: Path, port: int, upstream: int, limits: Limits) -> str:
    """Return an nginx.conf that proxies 127.0.0.1:port to gunicorn on 127.0.0.1:upstream."""
    temp = "\n".join(
        f"    {kind}_temp_path {base / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
worker_rlimit_nofile 16384;
pid {base / "nginx.pid"};
error_log {base / "error.log"} warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
{temp}
    limit_req_zone $binary_remote_addr zone=kuaisu_per_address:10m rate={limits.rate};
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        client_body_buffer_size 1m;
        proxy_request_buffering on;
        proxy_buffering on;
        location / {{
            limit_req zone=kuaisu_per_address burst={limits.burst} nodelay;
            limit_req_status 429;
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Start "t=${{msec}}";
            proxy_read_timeout 30s;
        }}
        error_page 429 @too_many;
        location @too_many {{
            default_type "text/html; charset=utf-8";
            add_header Retry-After {RETRY_AFTER_SECONDS} always;
            return 429 '{TOO_MANY_BODY}';
        }}
    }}
}}
"""


def _unprivileged(base: Path) -> dict[str, int]:
    """Return Popen's user and group to drop root for, handing the directory over; {} when not root."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    for path in [base, *base.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    pause = threading.Event()
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(
                f"nginx exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            pause.wait(0.025)  # start-up back-off of the harness
    raise RuntimeError("nginx did not start listening")


@contextmanager
def nginx(upstream: int, limits: Limits | None = None) -> Iterator[tuple[int, int]]:
    """Run nginx in front of 127.0.0.1:upstream; yield its port and master pid; stop it after."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx (Makefile TEST_PKGS)")
    base = Path(tempfile.mkdtemp(prefix="kuaisu-nginx-"))
    port = free_port()
    (base / "nginx.conf").write_text(nginx_config(base, port, upstream, limits or Limits()))
    log = base / "error.log"
    log.touch()
    drop = _unprivileged(base)
    proc = subprocess.Popen(
        [binary, "-p", str(base), "-c", str(base / "nginx.conf"), "-e", str(log), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        **drop,  # type: ignore[call-overload]
    )
    try:
        _wait_listening(port, proc, log)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)
