"""Consistent online backups while the portal serves, and restoring them."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from portal.db import Base

COUNTED = ("complaint", "event", "attachment", "merchant", "market", "staff_user")


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    """Where the backup went and what it holds."""

    path: Path
    counts: dict[str, int]
    uploads: int


def _libpq_url(url: str) -> str:
    """Turn a SQLAlchemy URL into one pg_dump and pg_restore understand."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    """Return the file of a SQLite URL."""
    database = make_url(url).database
    if not database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _run(args: list[str]) -> None:
    """Run a PostgreSQL client tool, turning its failure into a BackupError with its words."""
    try:
        subprocess.run(args, check=True, capture_output=True, text=True)  # noqa: S603  (fixed tool, our own URL)
    except FileNotFoundError as exc:
        raise BackupError(f"{args[0]} not found: apt-get install postgresql-client") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{args[0]} failed: {exc.stderr.strip()[:500]}") from exc


def row_counts(url: str) -> dict[str, int]:
    """Count the rows of the tables that matter, for the manifest and for checks."""
    engine = create_engine(url)
    tables = Base.metadata.tables
    with engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(tables[name])).scalar_one()
                  for name in COUNTED}
    engine.dispose()
    return counts


def _copy_uploads(source: Path, target: Path) -> int:
    """Copy photo files; files appearing meanwhile belong to rows not in the snapshot."""
    if not source.exists():
        return 0
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.part", "*.tmp"))
    return sum(1 for p in target.rglob("*") if p.is_file())


def backup(url: str, upload_dir: str, out: Path, now: datetime) -> BackupResult:
    """Snapshot the database (SQLite backup API or pg_dump), then copy the uploads."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        # The online backup API copies a consistent snapshot even while workers write;
        # copying the file with cp could catch a half-applied WAL (PITFALLS: SQLite).
        source = sqlite3.connect(_sqlite_path(url), timeout=30)
        target = sqlite3.connect(out / "kuaisu.db")
        with target:
            source.backup(target, pages=4096)
        source.close()
        target.close()
        counts = row_counts(f"sqlite:///{out / 'kuaisu.db'}")
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={out / 'kuaisu.pgdump'}",
              _libpq_url(url)])
        counts = {}
    uploads = _copy_uploads(Path(upload_dir), out / "uploads")
    manifest = {"taken_at": now.isoformat(), "dialect": make_url(url).get_backend_name(),
                "counts": counts, "uploads": uploads}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return BackupResult(out, counts, uploads)


def restore(source: Path, url: str, upload_dir: str, *, force: bool = False) -> dict[str, int]:
    """Restore a backup into the configured database and upload directory."""
    if not (source / "manifest.json").exists():
        raise BackupError(f"{source} is not a Kuaisu backup (no manifest.json)")
    if url.startswith("sqlite"):
        target_path = _sqlite_path(url)
        if target_path.exists() and not force:
            raise BackupError(f"{target_path} exists; pass --force to overwrite it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target_path}{suffix}").unlink(missing_ok=True)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(source / "kuaisu.db")
        dst = sqlite3.connect(target_path)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
    else:
        dump = source / "kuaisu.pgdump"
        args = ["pg_restore", "--no-owner", "--single-transaction", f"--dbname={_libpq_url(url)}"]
        if force:
            args[1:1] = ["--clean", "--if-exists"]
        _run([*args, str(dump)])
    if (source / "uploads").exists():
        shutil.copytree(source / "uploads", upload_dir, dirs_exist_ok=True)
    os.sync()
    return row_counts(url)
