"""After a run: what the clients were told against what the database holds, and the audit chain."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from bench.loadgen.servers import kuaisu
from bench.loadgen.shopper import Ledger
from portal.casenumbers import token_hash


@dataclass(frozen=True)
class Check:
    """One after-run check: its name, whether it passed, and the counts behind it."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """Format it for the report."""
        return f"  {'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def _stored(url: str) -> tuple[list[tuple[str, str, str]], Counter[str], str | None]:
    """Return every complaint's (form key, case number, tracking hash), photos per hash, integrity."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [
            tuple(row)
            for row in conn.execute(text("SELECT idempotency_key, case_number, tracking_hash FROM complaint"))
        ]
        photos: Counter[str] = Counter(
            dict(
                conn.execute(
                    text(
                        "SELECT c.tracking_hash, count(a.id) FROM complaint c JOIN attachment a "
                        "ON a.complaint_id = c.id AND a.status = 'ready' GROUP BY c.tracking_hash"
                    )
                ).all()
            )
        )
        integrity = (
            conn.execute(text("PRAGMA integrity_check")).scalar_one()
            if engine.dialect.name == "sqlite"
            else None
        )
    engine.dispose()
    return rows, photos, integrity


def after_run(url: str, env: dict[str, str], ledger: Ledger) -> list[Check]:
    """Compare acknowledged with stored, look for duplicates and lost photos, verify the audit chain."""
    rows, photos, integrity = _stored(url)
    by_hash = {tracking: number for _key, number, tracking in rows}
    acked = {token_hash(token): token for token in ledger.acknowledged.values()}
    missing = set(acked) - set(by_hash)
    unacked = set(by_hash) - set(acked)
    checks = [
        Check(
            "no acknowledged case lost",
            not missing,
            f"{len(acked) - len(missing)} of {len(acked)} acknowledged receipts found in the database",
        ),
        Check(
            "acknowledged == stored",
            not missing and not unacked,
            f"{len(acked)} receipts acknowledged, {len(by_hash)} complaints stored; "
            f"acknowledged but not stored {len(missing)}, stored but never acknowledged {len(unacked)} "
            f"(clients gave up on {len(ledger.gave_up)} forms)",
        ),
    ]
    shown = ledger.case_numbers
    wrong = [t for t, number in shown.items() if by_hash.get(token_hash(t)) != number]
    checks.append(
        Check(
            "receipt shows the stored case number",
            not wrong,
            f"{len(shown)} receipt pages read, {len(shown) - len(wrong)} match the database, "
            f"{len(wrong)} differ",
        )
    )
    keys, numbers = Counter(k for k, _n, _t in rows), Counter(n for _k, n, _t in rows)
    twice = sum(1 for n in keys.values() if n > 1) + sum(1 for n in numbers.values() if n > 1)
    checks.append(
        Check(
            "no duplicates",
            twice == 0 and len(set(ledger.acknowledged.values())) == len(ledger.acknowledged),
            f"{len(rows)} rows, {len(keys)} distinct form keys, {len(numbers)} distinct case numbers; "
            f"{ledger.retried} submissions were sent again with the same key",
        )
    )
    sent = sum(ledger.photos_sent.values())
    short = [t for t, n in ledger.photos_sent.items() if photos[token_hash(t)] != n]
    checks.append(
        Check(
            "every acknowledged photo stored and shown",
            not short,
            f"{sent} photos on acknowledged cases, {sum(photos[token_hash(t)] for t in ledger.photos_sent)} "
            f"stored with them, ready to show; {len(short)} cases differ",
        )
    )
    verify = kuaisu(env, "audit", "verify", check=False)
    checks.append(
        Check(
            "kuaisu audit verify",
            verify.returncode == 0,
            (verify.stdout + verify.stderr).strip().replace("\n", " "),
        )
    )
    if integrity is not None:
        checks.append(Check("SQLite PRAGMA integrity_check", integrity == "ok", str(integrity)))
    return checks
