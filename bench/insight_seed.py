"""Seed a year of complaints for the insight benchmark: stamps, outcomes, clocks and escalations.

A city with 5 districts, 20 offices, 200 markets and 5,000 shops; N complaints spread evenly
over the 365 days before `now`, each with its first event and its respond and feedback
clocks (plus on-site clocks, escalations, ratings and money recovered, in believable shares).
executemany on SQLite, COPY on PostgreSQL.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from portal.categories import CATEGORY_CODES
from portal.models import Market, Merchant, RegulatorUnit, User

SPAN = timedelta(days=365)
DISTRICTS, OFFICES_PER, MARKETS_PER, SHOPS_PER = 5, 4, 10, 25
COMPLAINT = (
    "id",
    "case_number",
    "tracking_hash",
    "idempotency_key",
    "channel",
    "kind",
    "category",
    "description",
    "on_site",
    "phone",
    "phone_last4",
    "merchant_id",
    "market_id",
    "unit_id",
    "status",
    "rung",
    "stage",
    "stage_started_at",
    "stage_due_at",
    "outcome",
    "recovered_fen",
    "satisfaction",
    "version",
    "created_at",
    "updated_at",
    "first_response_at",
    "onsite_at",
    "feedback_at",
    "closed_at",
    "rated_at",
    "hidden_at",
    "hidden_reason",
)
EVENT = ("complaint_id", "seq", "kind", "public", "actor_role", "data", "created_at", "prev_hash", "hash")
CLOCK = (
    "complaint_id",
    "stage",
    "rung",
    "started_at",
    "reminder_at",
    "urge_at",
    "due_at",
    "paused_seconds",
    "extended",
    "fallback_used",
    "stopped_at",
    "stop_reason",
)
MINUTE = timedelta(minutes=1)


@dataclass
class Seeded:
    """What the measurements need: accounts, a district, a market."""

    city: int = 0
    district: int = 0
    market: int = 0
    users: dict[str, int] = field(default_factory=dict)


def _org(engine: Engine, now: datetime, seeded: Seeded) -> list[tuple[int, int, int]]:
    """Create units, markets, shops and four accounts; return (shop, market, office) triples."""
    shops: list[tuple[int, int, int]] = []
    with engine.begin() as conn:

        def unit(name: str, level: str, parent: int | None) -> int:
            row = {"name": name, "level": level, "parent_id": parent, "created_at": now}
            return int(
                conn.execute(insert(RegulatorUnit).values(row).returning(RegulatorUnit.id)).scalar_one()
            )

        seeded.city = unit("长治市市场监督管理局", "city", None)
        for d in range(DISTRICTS):
            district = unit(f"第{d + 1}区市场监督管理局", "district", seeded.city)
            seeded.district = seeded.district or district
            for o in range(OFFICES_PER):
                office = unit(f"第{d + 1}区第{o + 1}市场监管所", "office", district)
                for m in range(MARKETS_PER):
                    market = int(
                        conn.execute(
                            insert(Market)
                            .values(
                                name=f"{d + 1}-{o + 1}-{m + 1}号市场",
                                address="长治市",
                                unit_id=office,
                                station_name="维权站",
                                station_phone="0355-2021234",
                                created_at=now,
                            )
                            .returning(Market.id)
                        ).scalar_one()
                    )
                    seeded.market = seeded.market or market
                    rows = [
                        {
                            "name": f"商户{market}-{s}",
                            "address": "A区",
                            "phone": "13935501201",
                            "category": CATEGORY_CODES[s % len(CATEGORY_CODES)],
                            "credit_code": f"I{market:05d}{s:04d}",
                            "market_id": market,
                            "unit_id": office,
                            "signed_commitment": True,
                            "created_at": now,
                        }
                        for s in range(SHOPS_PER)
                    ]
                    ids = conn.execute(insert(Merchant).returning(Merchant.id), rows).scalars().all()
                    shops += [(int(i), market, office) for i in ids]

        def user(role: str, **scope: int) -> int:
            return int(
                conn.execute(
                    insert(User)
                    .values(
                        username=f"bench-{role}-{'-'.join(map(str, scope.values()))}",
                        display_name=role,
                        password_hash="x",
                        role=role,
                        created_at=now,
                        **scope,
                    )
                    .returning(User.id)
                ).scalar_one()
            )

        seeded.users = {
            "district regulator": user("regulator", unit_id=seeded.district),
            "city regulator": user("regulator", unit_id=seeded.city),
            "station": user("station", market_id=seeded.market),
        }
    return shops


def _case(
    i: int,
    created: datetime,
    now: datetime,
    rng: random.Random,
    shop: tuple[int, int, int],
    conv: Callable[[datetime | None], Any],
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Return one complaint row with its events and clocks."""
    merchant, market, unit = shop
    report, on_site = rng.random() < 0.08, rng.random() < 0.2
    age = now - created
    closed_share = 0.97 if age > timedelta(days=30) else 0.5 if age > timedelta(days=1) else 0.1
    responded = (
        created + rng.randint(3, 120) * MINUTE if rng.random() < 0.92 and age > 2 * MINUTE * 60 else None
    )
    arrived = created + rng.randint(20, 150) * MINUTE if on_site and responded else None
    feedback = created + rng.randint(60, 2400) * MINUTE if responded and rng.random() < 0.85 else None
    closed = (feedback or created) + rng.randint(30, 3000) * MINUTE if rng.random() < closed_share else None
    closed = closed if closed and closed < now else None
    outcome = (
        rng.choices(("self_settled", "mediated", "failed", "not_accepted"), (55, 25, 10, 10))[0]
        if closed
        else None
    )
    rated = closed + 60 * MINUTE if closed and rng.random() < 0.6 else None
    hidden = created + 10 * MINUTE if rng.random() < 0.01 else None
    status = "closed" if closed else "handling" if responded else "new"
    phone = f"13{rng.randrange(10**9):09d}"
    due = created + 45 * MINUTE
    row = (
        i,
        f"KS{created:%Y%m%d}-{i:07d}",
        f"{i:064x}",
        f"insight-{i}",
        "poster",
        "report" if report else "complaint",
        rng.choice(CATEGORY_CODES),
        "瓷砖有裂纹，商家拒绝退换。",
        on_site,
        phone,
        phone[-4:],
        merchant,
        market,
        unit,
        status,
        "regulator" if report else "merchant",
        None if closed else "respond",
        None if closed else conv(created),
        None if closed else conv(due),
        outcome,
        rng.randrange(0, 80_000) if outcome in ("self_settled", "mediated") else None,
        rng.randint(1, 5) if rated else None,
        1,
        conv(created),
        conv(closed or responded or created),
        conv(responded),
        conv(arrived),
        conv(feedback),
        conv(closed),
        conv(rated),
        conv(hidden),
        "duplicate" if hidden else None,
    )
    events = [(i, 1, "submitted", True, "shopper", None, conv(created), "0" * 64, f"{i:064x}")]
    if not report and rng.random() < 0.06:
        to = "regulator" if rng.random() < 0.2 else "station"
        events.append(
            (
                i,
                2,
                "escalated",
                True,
                "system",
                f'{{"from": "merchant", "to": "{to}"}}',
                conv(created + 50 * MINUTE),
                f"{i:064x}",
                f"{i:063x}e",
            )
        )
    clocks = []
    stages = (
        (("verify", 15 * 24 * 60, closed),)
        if report
        else (
            ("respond", 45, responded),
            ("feedback", 1440, feedback),
            *((("onsite", 90, arrived),) if on_site else ()),
        )
    )
    for stage, minutes, stop in stages:
        end = created + minutes * MINUTE
        stopped = stop or closed
        clocks.append(
            (
                i,
                stage,
                "regulator" if report else "merchant",
                conv(created),
                conv(created + minutes * MINUTE / 2),
                conv(created + minutes * MINUTE * 0.8),
                conv(end),
                0,
                False,
                False,
                conv(stopped),
                "test" if stopped else None,
            )
        )
    return row, events, clocks


def _rows(
    n: int, shops: list[tuple[int, int, int]], now: datetime, sqlite: bool
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Yield every case oldest first; a few shops draw most complaints."""
    rng = random.Random(11)
    # SQLAlchemy stores naive UTC text with microseconds in SQLite; isoformat is the fast way.
    conv: Callable[[datetime | None], Any] = (
        (lambda m: None if m is None else m.replace(tzinfo=None).isoformat(" ", "microseconds"))
        if sqlite
        else (lambda m: None if m is None else m.replace(tzinfo=None))
    )
    step = SPAN / n
    per_district = len(shops) // DISTRICTS
    for i in range(1, n + 1):
        # Districts share the load evenly; inside one, a few shops draw most complaints.
        district = rng.randrange(DISTRICTS) * per_district
        shop = shops[district + int(per_district * rng.random() ** 1.5)]
        yield _case(i, now - SPAN + step * i, now, rng, shop, conv)


def seed(engine: Engine, n: int, now: datetime) -> Seeded:
    """Fill an empty, migrated database; return the ids the measurements use."""
    seeded = Seeded()
    shops = _org(engine, now, seeded)
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        (_sqlite_load if sqlite else _pg_copy)(cursor, _rows(n, shops, now, sqlite))
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        if not sqlite:
            for table in ("complaint", "event", "stage_clock"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        conn.execute(text("ANALYZE"))
    if not sqlite:
        # As autovacuum would have long done on a year of data: sets the visibility map, so
        # the covering index serves index-only scans.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE complaint"))
            conn.execute(text("VACUUM ANALYZE stage_clock"))
    return seeded


def reused(engine: Engine) -> Seeded | None:
    """Return the ids of an already seeded database, or None if it holds no complaints."""
    with engine.connect() as conn:
        if conn.scalar(text("SELECT count(*) FROM (SELECT 1 FROM complaint LIMIT 1) AS one")) == 0:
            return None
        seeded = Seeded(
            city=conn.scalar(text("SELECT min(id) FROM regulator_unit WHERE level = 'city'")),
            district=conn.scalar(text("SELECT min(id) FROM regulator_unit WHERE level = 'district'")),
            market=conn.scalar(text("SELECT min(id) FROM market")),
        )
        accounts = {
            f"bench-{role}-{scope}": who
            for who, role, scope in (
                ("district regulator", "regulator", seeded.district),
                ("city regulator", "regulator", seeded.city),
                ("station", "station", seeded.market),
            )
        }
        for name, user_id in conn.execute(text("SELECT username, id FROM staff_user")):
            if name in accounts:
                seeded.users[accounts[name]] = int(user_id)
    return seeded


def _sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _sqlite_load(cursor: Any, rows: Iterator[tuple[Any, list[Any], list[Any]]]) -> None:
    """Insert in batches inside one transaction, with a large page cache for the indexes."""
    cursor.execute("PRAGMA cache_size=-1000000")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("BEGIN")
    batch: list[tuple[Any, list[Any], list[Any]]] = []

    def flush() -> None:
        cursor.executemany(_sql("complaint", COMPLAINT), [c for c, _e, _k in batch])
        cursor.executemany(_sql("event", EVENT), [e for _c, es, _k in batch for e in es])
        cursor.executemany(_sql("stage_clock", CLOCK), [k for _c, _e, ks in batch for k in ks])
        batch.clear()

    for item in rows:
        batch.append(item)
        if len(batch) == 50_000:
            flush()
    flush()


def _pg_copy(cursor: Any, rows: Iterator[tuple[Any, list[Any], list[Any]]]) -> None:
    """COPY the complaints, then their events and clocks."""
    events: list[Any] = []
    clocks: list[Any] = []
    with cursor.copy(f"COPY complaint ({', '.join(COMPLAINT)}) FROM STDIN") as copy:
        for complaint, more_events, more_clocks in rows:
            copy.write_row(complaint)
            events += more_events
            clocks += more_clocks
    for table, columns, data in (("event", EVENT, events), ("stage_clock", CLOCK, clocks)):
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
