"""Benchmark the clock sweep: 100,000 open complaints, about 10% due, on SQLite and PostgreSQL.

    bash .ci/with-postgres.sh .venv/bin/python bench/sweep.py [--cases 100000] [--due 0.1]

Seeds each database with open complaints whose clocks started in the last hour (their
submitted event, respond and feedback clocks, a third of them on site), then times one
sweep at `now` (everything due issued, in committed batches) and a second sweep at the
same moment (nothing due). --scenario late: the sweep was down for an hour, so each due
case has every card from its reminder on, most of them escalating. Each market's station and
the office have a group robot, so every batch also queues its digests for them, as in a deployment
(--no-channels: none, the figures before 2026-11-23 were taken so; until the digests, every card
queued one delivery per robot). The sweep runs as `kuaisu sla sweep` runs it: on PostgreSQL
with two workers (portal/sweep.py: sweep_workers). PostgreSQL is measured
when KUAISU_TEST_DATABASE_URL names a server (bench/databases.py: a fresh database is created
there and dropped).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import create_engine, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import each_database
from portal import create_app
from portal.audit import GENESIS, chain_hash
from portal.clock import CardKind, Policy, Stage, stage_deadline
from portal.clockstate import CARD_ORDER, ClockState, card_moment, point_at
from portal.db import new_session
from portal.migrate import upgrade
from portal.models import (
    Complaint,
    Delivery,
    Event,
    Market,
    Merchant,
    NotificationChannel,
    RegulatorUnit,
    StageClock,
)
from portal.sweep import run_sweep, sweep_workers
from portal.workdays import WorkCalendar

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
SALT = "bench-salt-0123456789abcdef0123456789"
CHUNK = 5000
GAP_MINUTES = 3  # steady scenario: the previous sweep ran this long ago


def _org(conn: object, channels: bool) -> list[tuple[int, int | None, int]]:
    """Create a unit, two markets (with robots) and 200 merchants; return (merchant, market, unit) ids."""
    run = conn.execute  # type: ignore[attr-defined]
    unit = run(
        insert(RegulatorUnit).returning(RegulatorUnit.id),
        {"name": "英雄南路市场监管所", "level": "office", "created_at": NOW},
    ).scalar_one()
    markets = [
        run(
            insert(Market).returning(Market.id),
            {
                "name": f"市场{i}",
                "address": "太行东街88号",
                "unit_id": unit,
                "station_name": f"市场{i}维权站",
                "station_phone": "0355-2021234",
                "created_at": NOW,
            },
        ).scalar_one()
        for i in range(2)
    ]
    if channels:
        robot = {"kind": "wecom", "target": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"}
        owners = [{"market_id": m, "unit_id": None} for m in markets] + [{"market_id": None, "unit_id": unit}]
        run(insert(NotificationChannel), [{**robot, **o, "active": True, "created_at": NOW} for o in owners])
    shops = []
    for i in range(200):
        market = markets[i % 2] if i % 10 else None  # one in ten stands alone
        shop = run(
            insert(Merchant).returning(Merchant.id),
            {
                "name": f"商户{i}",
                "address": "A区",
                "phone": "13935501201",
                "category": "quality",
                "credit_code": f"91140402MA{i:08d}",
                "market_id": market,
                "unit_id": unit,
                "signed_commitment": True,
                "created_at": NOW,
            },
        ).scalar_one()
        shops.append((shop, market, unit))
    return shops


def _rows(n: int, due_share: float, scenario: str, shops: list[tuple[int, int | None, int]]):  # type: ignore[no-untyped-def]
    """Yield (complaint, event, clocks) rows; `due_share` of the cases have a card due at NOW.

    steady: the sweep last ran a few minutes ago, so each due case has the one card whose
    moment fell since then (a third each: reminder, urge, breach). late: the sweep was down
    for an hour, so a due case has every card from its reminder on (often all three).
    """
    rng, policy, calendar = random.Random(7), Policy(), WorkCalendar()
    for cid in range(1, n + 1):
        shop, market, unit = shops[cid % len(shops)]
        issued_before = None
        if rng.random() >= due_share:
            age = rng.uniform(0, 22)  # no card due yet
        elif scenario == "late":
            age = rng.uniform(23, 70)
        else:
            age = rng.choice((22.5, 36, 45)) + rng.uniform(0.02, GAP_MINUTES)
            issued_before = NOW - timedelta(minutes=GAP_MINUTES)
        started = NOW - timedelta(minutes=age)
        on_site = cid % 3 == 0
        stages = (Stage.RESPOND, Stage.FEEDBACK) + ((Stage.ONSITE,) if on_site else ())
        yield (
            {
                "id": cid,
                "case_number": f"B{cid:09d}",
                "tracking_hash": uuid.uuid4().hex * 2,
                "idempotency_key": secrets.token_hex(16),
                "channel": "poster",
                "kind": "complaint",
                "category": "quality",
                "description": "瓷砖有裂纹，商家拒绝退换。",
                "on_site": on_site,
                "phone": "13800138000",
                "phone_last4": "8000",
                "merchant_id": shop,
                "market_id": market,
                "unit_id": unit,
                "status": "new",
                "rung": "merchant",
                "stage": "respond",
                "stage_started_at": started,
                "stage_due_at": started + timedelta(minutes=45),
                "version": 1,
                "created_at": started,
                "updated_at": started,
            },
            _event(cid, started),
            [_clock(cid, stage, started, policy, calendar, issued_before) for stage in stages],
        )


def _event(cid: int, at: datetime) -> dict[str, object]:
    """Return the case's first event, hashed into its chain like audit.append_event does."""
    event = SimpleNamespace(
        complaint_id=cid,
        seq=1,
        kind="submitted",
        public=True,
        actor_id=None,
        actor_role="shopper",
        body=None,
        data={"kind": "complaint"},
        created_at=at,
    )
    return {
        "complaint_id": cid,
        "seq": 1,
        "kind": "submitted",
        "public": True,
        "actor_role": "shopper",
        "data": {"kind": "complaint"},
        "created_at": at,
        "prev_hash": GENESIS,
        "hash": chain_hash(GENESIS, event, SALT),
    }  # type: ignore[arg-type]


def _clock(
    cid: int,
    stage: Stage,
    started: datetime,
    policy: Policy,
    calendar: WorkCalendar,
    issued_before: datetime | None,
) -> dict[str, object]:
    """Return a running clock row as CaseClocks.start builds it, with earlier cards issued."""
    deadline = stage_deadline(stage, started, policy, calendar)
    clock = ClockState(
        id=0,
        complaint_id=cid,
        stage=stage.value,
        rung="merchant",
        started_at=started,
        reminder_at=deadline.card_at(CardKind.REMINDER, policy),
        urge_at=deadline.card_at(CardKind.URGE, policy),
        due_at=deadline.due,
        next_card_at=None,
        next_card=None,
        paused_since=None,
        paused_seconds=0,
        extended=False,
        fallback_used=False,
    )
    following = [k for k in CARD_ORDER if issued_before is None or card_moment(clock, k) > issued_before]
    point_at(clock, following[0] if following else None)
    return clock.row()


def seed(url: str, cases: int, due_share: float, scenario: str, channels: bool = True) -> float:
    """Migrate and fill the database; return the seconds it took."""
    began = time.perf_counter()
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        shops = _org(conn, channels)
        rows = _rows(cases, due_share, scenario, shops)
        while True:
            chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
            if not chunk:
                break
            conn.execute(insert(Complaint), [c for c, _e, _k in chunk])
            conn.execute(insert(Event), [e for _c, e, _k in chunk])
            conn.execute(insert(StageClock), [k for _c, _e, ks in chunk for k in ks])
    if engine.dialect.name == "postgresql":
        # Autovacuum vacuums and analyzes tables this size within a minute of such a load: time
        # the sweep against settled tables, not against autovacuum working through the load.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        # The load went in as one transaction, so the whole database sits in the WAL: a live
        # database checkpoints every 1,000 pages. Time the sweep against the settled file, not
        # against its first commit copying 200 MB back.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return time.perf_counter() - began


def measure(name: str, url: str, cases: int, due_share: float, scenario: str, channels: bool) -> None:
    """Seed, then time a sweep with work due and a sweep with nothing due."""
    took = seed(url, cases, due_share, scenario, channels)
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": SALT, "PHONE_SALT": SALT, "RATELIMIT_STORAGE_URI": "memory://"}
    )
    with app.app_context():
        with new_session() as session:
            due = (
                session.scalar(
                    select(func.count(func.distinct(StageClock.complaint_id))).where(
                        StageClock.next_card_at <= NOW
                    )
                )
                or 0
            )
        workers = sweep_workers(app.extensions["kuaisu.engine"])  # as `kuaisu sla sweep` runs
        began, cpu = time.perf_counter(), time.process_time()
        report = run_sweep(new_session, NOW, SALT, workers=workers)
        busy, busy_cpu = time.perf_counter() - began, time.process_time() - cpu
        began = time.perf_counter()
        idle = run_sweep(new_session, NOW, SALT, workers=workers)
        quiet = time.perf_counter() - began
        with new_session() as session:
            queued = session.scalar(select(func.count()).select_from(Delivery)) or 0
    app.extensions["kuaisu.engine"].dispose()
    print(
        f"{name}, {scenario}: {cases:,} open complaints seeded in {took:.1f} s; "
        f"{due:,} ({due / cases:.0%}) with a card due"
    )
    print(
        f"  sweep with work:   {busy:6.2f} s  ({workers} worker{'s' if workers > 1 else ''}; this process's "
        f"CPU {busy_cpu:.2f} s; load average "
        f"{os.getloadavg()[0]:.1f})  {dict(sorted(report.counts.items()))}, {report.late} late, "
        f"{queued:,} deliveries queued"
    )
    print(f"  sweep, none due:   {quiet:6.3f} s  {dict(idle.counts) or 'nothing due'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=float, default=0.1, help="share of cases with a card due")
    parser.add_argument(
        "--scenario",
        choices=("steady", "late"),
        default="steady",
        help="steady: one card per due case; late: the sweep was down for an hour",
    )
    parser.add_argument(
        "--no-channels", dest="channels", action="store_false", help="no group robots: no deliveries queued"
    )
    args = parser.parse_args()
    each_database(
        lambda label, url: measure(label, url, args.cases, args.due, args.scenario, args.channels),
        prefix="kuaisu-bench-sweep",
    )

if __name__ == "__main__":
    main()
