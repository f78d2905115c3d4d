"""Starting bulk poster runs outside the web workers, and draining the queue."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from portal.db import new_session, utcnow
from portal.import_files import purge_old_uploads
from portal.poster_jobs import (
    JobSettings,
    next_queued,
    purge_old_results,
    reap_interrupted,
    run_job,
)

log = logging.getLogger("kuaisu.posters")

# A web-started run stays behind the shoppers' requests: nice +10 and SCHED_IDLE (set
# KUAISU_POSTER_NICENESS=0 for neither) and one core (KUAISU_POSTER_WORKERS, default 1).
JOB_NICENESS = 10
# Settings the child process needs to reach the same database and folder as the app.
_PASSED = ("DATABASE_URL", "BULK_DIR", "BASE_URL", "SECRET_KEY", "POSTER_WORKERS", "POSTER_MAX_RUNNING")


def settings_from(config: Mapping[str, Any], workers: int | None = None) -> JobSettings:
    """Build run settings from the app config (KUAISU_POSTER_WORKERS, default one core)."""
    return JobSettings(
        bulk_dir=Path(config["BULK_DIR"]),
        base_url=str(config["BASE_URL"]),
        workers=workers if workers is not None else int(config.get("POSTER_WORKERS") or 1),
        max_running=int(config.get("POSTER_MAX_RUNNING") or 2),
    )


def work(settings: JobSettings, clock: Callable[[], datetime] = utcnow) -> int:
    """Fail interrupted runs, expire old files, then run queued jobs until none can start."""
    with new_session(write=True) as session:
        reap_interrupted(session, settings.bulk_dir, clock())
        purge_old_results(session, settings.bulk_dir, clock())
        session.commit()
    purge_old_uploads(settings.bulk_dir)
    ran = 0
    tried: set[str] = set()
    while True:
        with new_session() as session:
            token = next_queued(session)
        if token is None or token in tried:
            return ran
        tried.add(token)
        if not run_job(token, settings, clock):
            return ran  # the run limit is reached; a finishing runner drains the rest
        ran += 1


def _kuaisu_command() -> list[str]:
    """Return how to call `kuaisu` with this interpreter."""
    script = Path(sys.executable).with_name("kuaisu")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from portal.cli import cli; cli()"]


def start_in_background(token: str, config: Mapping[str, Any]) -> None:
    """Start `kuaisu posters run-job TOKEN` as a detached, niced process, never in the request.

    With KUAISU_POSTER_JOBS_SPAWN=0 nothing is started: `kuaisu posters work` runs the queue.
    """
    if str(config.get("POSTER_JOBS_SPAWN", "1")).strip().lower() in ("0", "false", "no", ""):
        return
    env = dict(os.environ)
    env.update({f"KUAISU_{key}": str(config[key]) for key in _PASSED if config.get(key)})
    niceness = int(config.get("POSTER_NICENESS", JOB_NICENESS))
    command = [*_kuaisu_command(), "posters", "run-job", token, "--nice", str(niceness)]
    if niceness > 0:
        command.append("--idle")
    # The shell backgrounds the run and exits at once, so the run is re-parented to init
    # and no zombie is left in the web worker; a new session keeps it out of the worker's
    # signals. Its stderr is the server's error log. If it cannot start or dies, the job
    # stays queued (or is reaped as interrupted) for `kuaisu posters work`.
    try:
        # Every argument is ours: the interpreter's own `kuaisu` and a hex token we generated.
        subprocess.run(  # noqa: S603
            ["/bin/sh", "-c", '"$@" </dev/null >/dev/null &', "kuaisu-posters", *command],
            env=env,
            start_new_session=True,
            check=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("could not start poster job %s: %s", token, exc)
