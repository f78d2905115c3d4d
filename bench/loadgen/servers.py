"""Start what a benchmark measures on loopback: gunicorn, redis-server, `kuaisu` commands."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen.http import HOST

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Workers:
    """How gunicorn runs the app: worker class, processes, threads, preloading."""

    worker_class: str = "sync"
    workers: int = 3
    threads: int = 4
    preload: bool = False

    def describe(self) -> str:
        """Say it in one phrase for the report."""
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"gunicorn {self.worker_class}, {self.workers} workers{threads}" + (
            ", --preload" if self.preload else ""
        )


def _children(pid: int) -> list[int]:
    """Return the live child processes of pid (Linux /proc)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_cpu_seconds(pid: int | None) -> float:
    """Return user+system CPU of a master process and its workers so far (Linux /proc)."""
    if pid is None or not Path(f"/proc/{pid}").exists():
        return float("nan")
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


@dataclass
class Server:
    """A running gunicorn: the port clients use (nginx's when it is in front), master pids, CPU."""

    port: int
    pid: int
    proxy_pid: int | None = None

    def worker_pids(self) -> list[int]:
        """Return gunicorn's live worker processes."""
        return _children(self.pid)

    def cpu_seconds(self) -> float:
        """Return user+system CPU of gunicorn's master and workers so far."""
        return tree_cpu_seconds(self.pid)

    def proxy_cpu_seconds(self) -> float:
        """Return user+system CPU of nginx's master and workers so far (NaN without nginx)."""
        return tree_cpu_seconds(self.proxy_pid)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, ready: str, log: Path, module: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{module} did not start: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(f"GET {ready} HTTP/1.0\r\n\r\n".encode())
                if b" 200 " in sock.recv(64):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{module} did not answer {ready}")
        time.sleep(0.1)


@contextmanager
def gunicorn(
    module: str, env: dict[str, str], workers: Workers, ready: str, log_dir: Path, timeout: int = 60
) -> Iterator[Server]:
    """Run gunicorn for `module` on a free loopback port until the block ends."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers.workers),
        "--worker-class",
        workers.worker_class,
        "--log-level",
        "warning",
        "--timeout",
        str(timeout),
    ]
    if workers.worker_class == "gthread":
        command += ["--threads", str(workers.threads)]
    if workers.preload:
        command.append("--preload")
    log = log_dir / f"{module.replace(':', '_')}-{port}.log"
    # PYTHONDONTWRITEBYTECODE=1 (the shell's default here) makes every worker compile afresh.
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "", "PYTHONPATH": str(ROOT), **env}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, module], cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        _wait_ready(proc, port, ready, log, module)
        yield Server(port, proc.pid)
    finally:
        if proc.poll() is not None:
            print(f"!! {module} exited early with {proc.returncode}: {log.read_text()[-1500:]}")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def redis_server(tmp: Path) -> Iterator[str | None]:
    """Run a throwaway redis-server on loopback for the rate limits; None if it is not installed.

    Flask-Limiter's memory:// storage counts per worker (PITFALLS) and starts a timer thread
    on every hit; a deployment with several workers keeps its limits in Redis.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://{HOST}:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def kuaisu(env: dict[str, str], *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a `kuaisu` command with the bench's environment; return the finished process."""
    return subprocess.run(
        [str(BIN / "kuaisu"), *command],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=check,
        timeout=600,
    )
