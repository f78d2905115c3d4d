"""Time `kuaisu backup` while shoppers keep submitting, then `kuaisu restore` into a new database.

    .venv/bin/python bench/backup_restore.py --before 30 --after 30
    bash .ci/with-postgres.sh .venv/bin/python bench/backup_restore.py --db both

gunicorn serves a fresh demo database; open-model shoppers (a share with photos) submit for
--before seconds, then `kuaisu backup OUT` runs while they go on for --after seconds more.
The backup is restored with `kuaisu restore` into a new database and upload directory.
Printed: both timings, the row counts of the live database, the backup and the restored one,
whether every case acknowledged before the backup began is in it, the photo files behind
every restored attachment, the integrity check and `kuaisu audit verify` on the restored copy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.loadgen.drive import Rates, drive
from bench.loadgen.photos import photo_set
from bench.loadgen.servers import Workers, kuaisu
from bench.loadgen.shopper import Ledger, ShopperPlan
from bench.loadgen.stack import Seeded, bench_env, fresh_database, seed, serving
from portal.backup import row_counts
from portal.casenumbers import token_hash


async def backup_under_load(
    seeded: Seeded, args: argparse.Namespace, tmp: Path, out: Path
) -> tuple[float, str, set[str], dict[str, int]]:
    """Submit, back up midway, keep submitting; return seconds, output, hashes acked before, live counts."""
    ledger = Ledger()
    workers = Workers(args.worker_class, args.workers, args.threads, preload=True)
    rates = Rates(args.photo_rate, args.plain_rate, 0.0, args.before + args.after, 1.0, 0.0, (1, 3))
    with serving(seeded, workers, tmp) as (server, env):
        plan = ShopperPlan(server.port, seeded.poster_paths, photo_set(3, twelve_mp=False))
        load = asyncio.create_task(drive(server, [], plan, rates, ledger, 5000))
        await asyncio.sleep(args.before + 1)
        before = {token_hash(token) for token in ledger.acknowledged.values()}
        started = time.monotonic()
        done = await asyncio.to_thread(kuaisu, env, "backup", str(out))
        took = time.monotonic() - started
        if load.done():
            print("  !! the write load had ended before the backup finished; raise --after")
        await load
    return took, done.stdout.strip(), before, row_counts(seeded.url)


def restored_state(url: str, uploads: Path) -> tuple[set[str], int, int, str]:
    """Return the restored tracking hashes, attachments, attachments without their file, integrity."""
    engine = create_engine(url)
    with engine.connect() as conn:
        hashes = set(conn.scalars(text("SELECT tracking_hash FROM complaint")))
        keys = list(conn.scalars(text("SELECT storage_key FROM attachment")))
        integrity = (
            str(conn.execute(text("PRAGMA integrity_check")).scalar_one())
            if engine.dialect.name == "sqlite"
            else "n/a (PostgreSQL)"
        )
    engine.dispose()
    missing = sum(1 for key in keys if not (uploads / key[:2] / key).exists())
    return hashes, len(keys), missing, integrity


def run(kind: str, args: argparse.Namespace) -> None:
    """Back up under load, restore, and print timings, counts and checks."""
    tmp = Path(tempfile.mkdtemp(prefix=f"kuaisu-backup-{kind}-"))
    out, secret = tmp / "backup", secrets.token_hex(32)
    try:
        with fresh_database(kind, tmp, args.pg) as url:
            seeded = seed(kind, url, bench_env(url, tmp, secret))
            took, said, before, live = asyncio.run(backup_under_load(seeded, args, tmp, out))
        (tmp / "restored").mkdir()
        with fresh_database(kind, tmp / "restored", args.pg) as target:
            env = bench_env(target, tmp, secret, uploads="restored-uploads")
            started = time.monotonic()
            restored = kuaisu(env, "restore", str(out), check=False)
            restore_took = time.monotonic() - started
            hashes, attachments, no_file, integrity = restored_state(target, tmp / "restored-uploads")
            verify = kuaisu(env, "audit", "verify", check=False)
            started = time.monotonic()
            kuaisu(env, "routes")
            startup = time.monotonic() - started
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(
            f"\n{kind}: load {args.photo_rate:g}/s with photos + {args.plain_rate:g}/s without; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(f"  live database after the load   {', '.join(f'{k}={v}' for k, v in live.items())}")
        print(f"  start-up of a kuaisu command   {startup:.2f} s (`kuaisu routes`; included in both timings)")
        print(f"  kuaisu backup (under load)     {took:.2f} s, {size / 2**20:.1f} MiB: {said}")
        print(
            f"  kuaisu restore                 {restore_took:.2f} s: "
            f"{(restored.stdout + restored.stderr).strip()}"
        )
        print(
            f"  acknowledged before the backup {len(before)}, in the restored copy {len(before & hashes)}"
            f" -> {'PASS' if before <= hashes else 'FAIL'}"
        )
        print(
            f"  restored attachments           {attachments}, without their photo file {no_file}"
            f" -> {'PASS' if no_file == 0 else 'FAIL'}"
        )
        print(f"  integrity check                {integrity}")
        print(
            f"  audit verify (restored)        {'PASS' if verify.returncode == 0 else 'FAIL'}: "
            f"{(verify.stdout + verify.stderr).strip()}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    """Run on SQLite, and on PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default=None)
    parser.add_argument("--pg", default=os.environ.get("KUAISU_TEST_DATABASE_URL"))
    parser.add_argument("--before", type=float, default=30.0, help="seconds of load before the backup")
    parser.add_argument("--after", type=float, default=30.0, help="seconds of load from the backup's start")
    parser.add_argument("--photo-rate", type=float, default=2.0)
    parser.add_argument("--plain-rate", type=float, default=20.0)
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    args.db = args.db or ("both" if args.pg else "sqlite")
    if args.db != "sqlite" and not args.pg:
        parser.error("PostgreSQL needs --pg URL or KUAISU_TEST_DATABASE_URL")
    for kind in {"sqlite": ["sqlite"], "pg": ["postgresql"], "both": ["sqlite", "postgresql"]}[args.db]:
        run(kind, args)


if __name__ == "__main__":
    main()
