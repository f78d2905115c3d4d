"""Bulk poster runs in the background: queue, claim once, stream to a file, report progress."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.db import new_session, utcnow
from portal.job_lock import JobLock
from portal.models import PosterJob
from portal.posters import BulkScope, count_posters, iter_posters
from qr import bulk
from qr.fonts import FontNotFoundError, find_cjk_font
from qr.layout import LAYOUTS, Layout

log = logging.getLogger("kuaisu.posters")

FORMATS = ("pdf", "zip")
# Progress is written at most every 1% or every 2 s, so a 40,000-poster run makes a few
# hundred short writes, not 40,000, next to the shoppers' own.
PROGRESS_SECONDS = 2.0
KEEP_RESULTS = timedelta(days=7)
Writer = Callable[..., int]
_WRITERS: dict[str, Writer] = {"pdf": bulk.write_pdf, "zip": bulk.write_png_zip}


class PosterJobError(ValueError):
    """A bulk run cannot be queued as asked; the message says why."""


@dataclass(frozen=True)
class JobSettings:
    """Where a run writes, what URL its codes carry, and how many cores it may use."""

    bulk_dir: Path
    base_url: str
    workers: int | None = 1
    max_running: int = 2


def create_job(
    session: Session, *, requester_id: int, scope: BulkScope, layout: str, fmt: str, now: datetime
) -> PosterJob:
    """Queue a bulk run for the scope; refuse an unknown layout or format, or nothing to print."""
    if layout not in LAYOUTS:
        raise PosterJobError(f"unknown layout {layout!r}")
    if fmt not in FORMATS:
        raise PosterJobError(f"unknown format {fmt!r}")
    total = count_posters(session, scope)
    if total == 0:
        raise PosterJobError("there are no posters to print in this area")
    job = PosterJob(
        token=secrets.token_hex(16),
        requested_by_id=requester_id,
        scope=scope.as_json(),
        layout=layout,
        fmt=fmt,
        status="queued",
        total=total,
        done=0,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def _claim(session: Session, job_id: int, max_running: int | None) -> bool:
    """Mark a queued job running, unless another runner took it or the run limit is reached."""
    if max_running is not None:
        running = session.scalar(select(func.count()).where(PosterJob.status == "running"))
        if int(running or 0) >= max_running:
            return False
    claimed = session.execute(
        update(PosterJob)
        .where(PosterJob.id == job_id, PosterJob.status == "queued")
        .values(status="running", done=0)
    )
    session.commit()
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _finish(job_id: int, now: datetime, **values: object) -> None:
    """Record the end of a run in its own short write transaction."""
    with new_session(write=True) as session:
        session.execute(update(PosterJob).where(PosterJob.id == job_id).values(finished_at=now, **values))
        session.commit()


class _Progress:
    """Write done/total to the job row, throttled to every 1% or every few seconds."""

    def __init__(self, job_id: int, total: int) -> None:
        self.job_id, self.step = job_id, max(1, total // 100)
        self.written, self.at = 0, time.monotonic()

    def __call__(self, done: int) -> None:
        if done - self.written < self.step and time.monotonic() - self.at < PROGRESS_SECONDS:
            return
        with new_session(write=True) as session:
            session.execute(update(PosterJob).where(PosterJob.id == self.job_id).values(done=done))
            session.commit()
        self.written, self.at = done, time.monotonic()


def run_job(token: str, settings: JobSettings, clock: Callable[[], datetime] = utcnow) -> bool:
    """Run one queued job to the end, done or failed; return False if it was not ours to run."""
    with new_session() as session:
        job = session.scalars(select(PosterJob).where(PosterJob.token == token)).first()
        if job is None or job.status != "queued":
            return False
        job_id, layout, fmt = job.id, job.layout, job.fmt
        scope = BulkScope.from_json(job.scope)
    try:
        lock = JobLock(settings.bulk_dir, token)
    except BlockingIOError:
        return False  # another runner holds this job
    except OSError as exc:
        # No lock file means no output file either: fail the job rather than leave it queued.
        with new_session(write=True) as session:
            if _claim(session, job_id, None):
                _finish(job_id, clock(), status="failed", error=_storage_error(exc))
        return True
    with lock:
        with new_session(write=True) as session:
            if not _claim(session, job_id, settings.max_running):
                return False
        _produce(job_id, token, scope, layout, fmt, settings, clock)
    return True


def _produce(
    job_id: int,
    token: str,
    scope: BulkScope,
    layout: str,
    fmt: str,
    settings: JobSettings,
    clock: Callable[[], datetime],
) -> None:
    """Render the posters into BULK_DIR and record the outcome on the job."""
    final = settings.bulk_dir / f"{token}.{fmt}"
    partial = final.with_name(final.name + ".part")
    try:
        font = find_cjk_font()
        with new_session() as reader, _output(partial) as out:
            total = count_posters(reader, scope)
            reader.rollback()
            _finish_total(job_id, total)
            written = _WRITERS[fmt](
                iter_posters(reader, scope, settings.base_url),
                cast(Layout, layout),
                out,
                progress=_Progress(job_id, total),
                workers=settings.workers,
                font=font,
            )
        os.replace(partial, final)
    except FontNotFoundError as exc:
        _finish(job_id, clock(), status="failed", error=f"font: {exc}"[:400])
    except OSError as exc:
        _finish(job_id, clock(), status="failed", error=_storage_error(exc))
    except Exception as exc:
        log.exception("poster job %s failed", token)
        _finish(job_id, clock(), status="failed", error=f"internal: {type(exc).__name__}")
    else:
        _finish(job_id, clock(), status="done", done=written, total=written, result_path=final.name)
        return
    partial.unlink(missing_ok=True)


def _finish_total(job_id: int, total: int) -> None:
    """Record the count the run will print, which may have changed since it was queued."""
    with new_session(write=True) as session:
        session.execute(update(PosterJob).where(PosterJob.id == job_id).values(total=total))
        session.commit()


@contextmanager
def _output(path: Path) -> Iterator[BinaryIO]:
    """Open the partial output file, creating BULK_DIR if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        yield out


def _storage_error(exc: OSError) -> str:
    """Describe a file error without the server's paths."""
    log.error("poster output not writable: %s", exc)
    return f"storage: {exc.strerror or type(exc).__name__}"[:400]


def next_queued(session: Session) -> str | None:
    """Return the token of the oldest queued job, if any."""
    return session.scalar(
        select(PosterJob.token).where(PosterJob.status == "queued").order_by(PosterJob.id).limit(1)
    )


def reap_interrupted(session: Session, bulk_dir: Path, now: datetime) -> int:
    """Fail running jobs whose process died (its lock is free); return how many."""
    reaped = 0
    for job in session.scalars(select(PosterJob).where(PosterJob.status == "running")):
        if JobLock.is_free(bulk_dir, job.token):
            job.status, job.error, job.finished_at = "failed", "interrupted", now
            (bulk_dir / f"{job.token}.{job.fmt}.part").unlink(missing_ok=True)
            reaped += 1
    session.flush()
    return reaped


def purge_old_results(session: Session, bulk_dir: Path, now: datetime) -> int:
    """Delete result files kept longer than KEEP_RESULTS; the job says it has expired."""
    old = session.scalars(
        select(PosterJob).where(PosterJob.status == "done", PosterJob.finished_at < now - KEEP_RESULTS)
    )
    purged = 0
    for job in old:
        if job.result_path:
            (bulk_dir / job.result_path).unlink(missing_ok=True)
        job.status, job.result_path = "expired", None
        purged += 1
    session.flush()
    return purged
