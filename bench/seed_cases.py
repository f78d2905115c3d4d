"""Seed a benchmark database: units, 250 markets, 5,000 merchants and N complaints, fast.

Complaints and their first event go in with executemany (SQLite) or COPY (PostgreSQL);
the organisation is small and goes through SQLAlchemy Core.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from portal.categories import CATEGORY_CODES
from portal.models import Market, Merchant, RegulatorUnit, User

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
SPAN = timedelta(days=400)
MARKETS, PER_MARKET, OFFICES = 250, 20, 20
CLAIMANTS = tuple(f"1990000{n:04d}" for n in range(10))
CLAIMANT_SHARE = 0.01
COMPLAINT_COLUMNS = (
    "id",
    "case_number",
    "tracking_hash",
    "idempotency_key",
    "channel",
    "kind",
    "category",
    "description",
    "amount_fen",
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
    "assignee_id",
    "outcome",
    "recovered_fen",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
    "hidden_at",
    "hidden_reason",
)
EVENT_COLUMNS = (
    "id",
    "complaint_id",
    "seq",
    "kind",
    "public",
    "actor_role",
    "created_at",
    "prev_hash",
    "hash",
)


@dataclass
class Seeded:
    """Ids the measurements need: who to sign in as, what to look up."""

    city: int = 0
    office: int = 0
    market: int = 0
    merchant: int = 0
    stations: dict[int, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    phones: list[str] = field(default_factory=list)
    total: int = 0


def _org(engine: Engine, seeded: Seeded) -> list[tuple[int, int, int]]:
    """Create the unit tree, markets, merchants and staff; return (merchant, market, unit)."""
    shops: list[tuple[int, int, int]] = []
    with engine.begin() as conn:

        def unit(name: str, level: str, parent: int | None) -> int:
            row = {"name": name, "level": level, "parent_id": parent, "created_at": NOW}
            return int(
                conn.execute(insert(RegulatorUnit).values(row).returning(RegulatorUnit.id)).scalar_one()
            )

        seeded.city = unit("长治市市场监督管理局", "city", None)
        districts = [unit(f"区局{d}", "district", seeded.city) for d in range(4)]
        offices = [unit(f"监管所{o}", "office", districts[o % 4]) for o in range(OFFICES)]
        seeded.office = offices[0]
        for m in range(MARKETS):
            office = offices[m % OFFICES]
            market = conn.execute(
                insert(Market)
                .values(
                    name=f"市场{m}",
                    address="地址",
                    unit_id=office,
                    station_name=f"市场{m}维权站",
                    station_phone="0355-2021234",
                    created_at=NOW,
                    canned_replies=["您好，已收到您的投诉，正在处理。"],
                )
                .returning(Market.id)
            ).scalar_one()
            rows = [
                {
                    "name": f"商户{m}-{s}",
                    "address": "A区",
                    "phone": "13935501201",
                    "category": CATEGORY_CODES[s % len(CATEGORY_CODES)],
                    "credit_code": f"B{m:05d}{s:04d}",
                    "market_id": market,
                    "unit_id": office,
                    "signed_commitment": True,
                    "created_at": NOW,
                }
                for s in range(PER_MARKET)
            ]
            ids = conn.execute(insert(Merchant).returning(Merchant.id), rows).scalars().all()
            shops += [(int(i), int(market), office) for i in ids]
            seeded.stations[int(market)] = _user(conn, "station", f"station{m}", market_id=market)
        seeded.market, seeded.merchant = shops[0][1], shops[0][0]
        seeded.users = {
            "merchant": _user(conn, "merchant", "bench-merchant", merchant_id=seeded.merchant),
            "station": seeded.stations[seeded.market],
            "office regulator": _user(conn, "regulator", "bench-office", unit_id=seeded.office),
            "city regulator": _user(conn, "regulator", "bench-city", unit_id=seeded.city),
        }
    return shops


def _user(conn: Any, role: str, username: str, **scope: int) -> int:
    """Insert one staff account and return its id."""
    return int(
        conn.execute(
            insert(User)
            .values(
                username=username,
                display_name=username,
                password_hash="x",
                role=role,
                created_at=NOW,
                **scope,
            )
            .returning(User.id)
        ).scalar_one()
    )


def _stamp(moment: datetime | None) -> str | None:
    """Write a UTC moment the way SQLAlchemy stores it in SQLite (naive, microseconds)."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _rows(
    n: int, shops: list[tuple[int, int, int]], seeded: Seeded, sqlite: bool
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Yield (complaint, event) rows: oldest first, closed when old, new when recent."""
    rng = random.Random(7)
    prefixes = ("135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187", "188")
    pool = [f"{rng.choice(prefixes)}{rng.randrange(10**8):08d}" for _ in range(n // 5)]
    seeded.phones = pool[:1000]
    step, day, per_day = SPAN / n, "", 0
    conv = _stamp if sqlite else (lambda m: m.replace(tzinfo=None) if m else None)
    for i in range(1, n + 1):
        created = NOW - SPAN + step * i
        local_day = (created + timedelta(hours=8)).strftime("%Y%m%d")
        per_day = per_day + 1 if local_day == day else 1
        day = local_day
        # A few shops draw most complaints (a busy mall), most draw a handful.
        merchant, market, unit = shops[int(len(shops) * rng.random() ** 2)]
        report = rng.random() < 0.05
        # One case in a hundred comes from ten professional claimants (about 17 a week each),
        # spread over every shop: the repeat-phone flag's cases.
        claimant = rng.random() < CLAIMANT_SHARE
        if claimant:
            merchant, market, unit = shops[rng.randrange(len(shops))]
        age = n - i
        status = (
            "new" if age < n * 0.005 else "handling" if age < n * 0.03 or rng.random() < 0.01 else "closed"
        )
        phone = None if report and rng.random() < 0.5 else rng.choice(pool)
        phone = CLAIMANTS[i % len(CLAIMANTS)] if claimant else phone
        due = created + (timedelta(minutes=45) if status == "new" else timedelta(hours=24))
        closed = created + timedelta(hours=5) if status == "closed" else None
        complaint = (
            i,
            f"KS{day}-{per_day:04d}",
            f"{i:064d}",
            f"bench-{i:09d}",
            "poster",
            "report" if report else "complaint",
            rng.choice(CATEGORY_CODES),
            "瓷砖有裂纹，商家拒绝退换。",
            rng.randrange(0, 500_000),
            False,
            phone,
            phone[-4:] if phone else None,
            merchant,
            market,
            unit,
            status,
            "regulator" if report else "merchant",
            None if closed else ("respond" if status == "new" else "feedback"),
            conv(None if closed else created),
            conv(None if closed else due),
            None if status == "new" else seeded.stations[market],
            "mediated" if closed else None,
            rng.randrange(0, 50_000) if closed else None,
            1,
            conv(created),
            conv(closed or created),
            conv(closed),
            conv(created) if rng.random() < 0.005 else None,
            None,
        )
        event = (i, i, 1, "submitted", True, "shopper", conv(created), "0" * 64, f"{i:064x}")
        yield complaint, event
    seeded.total = n


def seed(engine: Engine, n: int) -> Seeded:
    """Fill an empty, migrated database; return what the measurements need."""
    seeded = Seeded()
    shops = _org(engine, seeded)
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if sqlite:
            _sqlite_load(cursor, _rows(n, shops, seeded, sqlite))
        else:
            _pg_copy(cursor, _rows(n, shops, seeded, sqlite))
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        if not sqlite:
            for table in ("complaint", "event"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    # A live database has been vacuumed and analysed by autovacuum; a fresh bulk load has not.
    # Left as it is, PostgreSQL's autovacuum works through both tables during the measurements
    # and every first read of a page writes its hint bits, so the figures would measure that.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE" if sqlite else "VACUUM (ANALYZE)"))
    return seeded


def _sqlite_load(cursor: Any, rows: Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]) -> None:
    """Insert in batches inside one transaction."""
    # A throwaway bulk load: skip fsyncs and give the index builds a big page cache.
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-400000")
    cursor.execute("BEGIN")
    complaint_sql = (
        f"INSERT INTO complaint ({', '.join(COMPLAINT_COLUMNS)}) VALUES "
        f"({', '.join('?' * len(COMPLAINT_COLUMNS))})"
    )
    event_sql = (
        f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
    )
    batch: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
    for pair in rows:
        batch.append(pair)
        if len(batch) == 50_000:
            cursor.executemany(complaint_sql, [c for c, _ in batch])
            cursor.executemany(event_sql, [e for _, e in batch])
            batch = []
    cursor.executemany(complaint_sql, [c for c, _ in batch])
    cursor.executemany(event_sql, [e for _, e in batch])


def _pg_copy(cursor: Any, rows: Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]) -> None:
    """Stream both tables with COPY; events follow once their complaints exist."""
    events: list[tuple[Any, ...]] = []
    with cursor.copy(f"COPY complaint ({', '.join(COMPLAINT_COLUMNS)}) FROM STDIN") as copy:
        for complaint, event in rows:
            copy.write_row(complaint)
            events.append(event)
    with cursor.copy(f"COPY event ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
        for event in events:
            copy.write_row(event)
