"""Run the real app under gunicorn on a free loopback port, for fault and scale tests."""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, attempts: int = 600) -> None:
    """Block until /healthz answers 200; fail with gunicorn's last words if it died."""
    pause = threading.Event()
    for _ in range(attempts):
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        pause.wait(0.05)  # start-up back-off of the harness, not a clock in the app
    raise RuntimeError("gunicorn did not become healthy")


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int = 2, port: int | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Start gunicorn serving wsgi:app with the given KUAISU_* environment; stop it after."""
    port = port or free_port()
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "", **env}
    gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
    log = Path(env.get("KUAISU_UPLOAD_DIR", "/tmp")).parent / f"gunicorn-{port}.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [gunicorn_bin, "--preload", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
             "--graceful-timeout", "2", "--timeout", "30", "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(port, proc, log)
        yield port, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_pids(master: int) -> list[int]:
    """Return the live worker processes of a gunicorn master."""
    path = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(pid) for pid in path.read_text().split()]
    except OSError:
        return []


def kill_workers(
    master: int, acknowledged: Callable[[], int], done: threading.Event, kills: list[int], every: int
) -> None:
    """SIGKILL a random worker each time `every` more submissions were acknowledged, until done."""
    rng = random.Random(7)
    pause = threading.Event()
    next_kill = every
    while not done.is_set():
        if acknowledged() >= next_kill:
            pids = worker_pids(master)
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills.append(1)
                next_kill += every
        pause.wait(0.005)
