"""The signal queries read one phone's rows through their indexes, not the whole complaint table.

At a million complaints a scan per case page would cost seconds; the plan is checked instead of
a timing. PostgreSQL picks a scan on a tiny table, so sequential scans are priced out first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, text, true
from sqlalchemy.orm import Session

from portal.models import Complaint
from portal.signals import SignalPolicy, possible_duplicates, repeat_phone
from tests.conftest import NOW
from tests.factories import Factory

# ix_complaint_phone_created or ix_complaint_phone_merchant: either reads one phone's rows only.
PHONE_INDEX = "ix_complaint_phone_"


@contextmanager
def captured(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """Record the SQL the session sends, with its parameters."""
    found: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        found.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def plan(session: Session, statement: str, parameters: Any) -> str:
    """Return the database's plan for one captured statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        cursor = session.connection().connection.cursor()
        cursor.execute("EXPLAIN " + statement, parameters)
    else:
        cursor = session.connection().connection.cursor()
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
    return "\n".join(str(row) for row in cursor.fetchall())


def _phone_queries(found: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in found if "complaint.phone =" in s and s.lstrip().upper().startswith("SELECT")]


def test_repeat_phone_and_duplicate_queries_use_the_phone_indexes(session: Session, factory: Factory) -> None:
    merchant = factory.make_merchant()
    cases = [factory.make_complaint(merchant, now=NOW + timedelta(hours=n)).complaint for n in range(10)]
    case = session.get(Complaint, cases[0].id)
    assert case is not None
    with captured(session) as found:
        assert repeat_phone(session, case, SignalPolicy(), true()) is not None
    repeat = _phone_queries(found)
    assert len(repeat) == 3  # the window's rows, the visible count, the listed cases
    for statement, parameters in repeat:
        assert PHONE_INDEX in plan(session, statement, parameters), statement
    with captured(session) as found:
        assert len(possible_duplicates(session, case, SignalPolicy(), true())) == 9
    [(statement, parameters)] = _phone_queries(found)
    assert PHONE_INDEX in plan(session, statement, parameters), statement
    session.rollback()
