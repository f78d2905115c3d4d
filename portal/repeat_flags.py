"""The stored repeat-phone flag: set as cases arrive, recounted in full by `kuaisu signals reflag`.

A case is flagged when its number sent at least the threshold of cases within one window
around it, the rule the case page shows (portal/signals.py). The board filters on the
stored flag through small partial indexes, so a filter over a million cases reads only the
flagged ones. Order 121: the flag is for weighing; nothing here changes a case's handling,
and the flag is not a case change (no version, no event).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import groupby
from typing import cast

from sqlalchemy import Table, bindparam, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portal import bulk
from portal.models import Complaint
from portal.signals import SignalPolicy

_CASES = cast(Table, Complaint.__table__)
_BATCH = 500
# Built once: intake runs it on every submission while holding the write lock.
_NEAR = (
    select(_CASES.c.id, _CASES.c.created_at)
    .where(
        _CASES.c.phone == bindparam("phone"),
        _CASES.c.created_at >= bindparam("low"),
        _CASES.c.created_at <= bindparam("high"),
    )
    .order_by(_CASES.c.created_at, _CASES.c.id)
)


def flagged_among(rows: Sequence[tuple[int, datetime]], policy: SignalPolicy) -> set[int]:
    """Return the ids of one phone's cases (id, created_at; by time) that lie in a full window.

    A window starts at one of the times and holds both ends, as on the case page; a case is
    flagged when some window holding it reaches the threshold.
    """
    times = [created for _, created in rows]
    found: set[int] = set()
    reached = 0
    for start_index, start in enumerate(times):
        end_index = bisect_right(times, start + policy.repeat_window)
        if end_index - start_index >= policy.repeat_threshold:
            found.update(case_id for case_id, _ in rows[max(start_index, reached) : end_index])
            reached = max(reached, end_index)
    return found


def flag_arrival(session: Session, complaint: Complaint, policy: SignalPolicy) -> None:
    """Flag the cases that the new (or newly numbered) case fills a window for.

    Only windows holding the new case can change, so only cases within one window of it, and
    deciding them needs the phone's cases within two windows: one range of
    ix_complaint_phone_created, which for almost every number is the new case alone. Flags
    only grow as cases arrive. Intake runs under the day's case-number row lock, so on
    PostgreSQL this read sees every submission committed before it. The case must be stored
    with its number (intake inserts it directly; a changed number needs a flush first).
    """
    if not complaint.phone:
        return
    moment, window = complaint.created_at, policy.repeat_window
    span = {"phone": complaint.phone, "low": moment - 2 * window, "high": moment + 2 * window}
    rows = session.connection().execute(_NEAR, span).all()
    if len(rows) < policy.repeat_threshold:
        return
    near = {case_id for case_id, created in rows if abs(created - moment) <= window}
    cases = [(case_id, created) for case_id, created in rows]
    mark(session, flagged_among(cases, policy) & near, flagged=True)


def mark(session: Session, ids: Iterable[int], *, flagged: bool) -> int:
    """Set (or clear) the flag of these cases below the ORM; return how many rows changed.

    The version stays: a flag is no edit by anyone, so a form open on the case stays valid.
    Cases already in the session get the new value too.
    """
    wanted, changed = sorted(ids), 0
    for first in range(0, len(wanted), _BATCH):
        batch = wanted[first : first + _BATCH]
        result = session.execute(
            update(_CASES)
            .where(bulk.among(session, _CASES.c.id, batch), _CASES.c.repeat_phone_flag != flagged)
            .values(repeat_phone_flag=flagged)
        )
        changed += result.rowcount  # type: ignore[attr-defined]
        for case_id in batch:
            loaded = session.identity_map.get(identity_key(Complaint, case_id))
            if loaded is not None:
                set_committed_value(loaded, "repeat_phone_flag", flagged)
    return changed


def reflag_all(session: Session, policy: SignalPolicy) -> tuple[int, int, int]:
    """Recount every case's flag from scratch; return (flagged, newly flagged, cleared).

    For the first fill after the migration and after a change of the threshold or window:
    one pass over every number's cases in (phone, created_at) order.
    """
    stream = session.execute(
        select(Complaint.phone, Complaint.id, Complaint.created_at)
        .where(Complaint.phone.is_not(None))
        .order_by(Complaint.phone, Complaint.created_at, Complaint.id),
        execution_options={"yield_per": 20_000},
    )
    wanted: set[int] = set()
    for _phone, cases in groupby(stream, key=lambda row: row[0]):
        rows = [(case_id, created) for _, case_id, created in cases]
        if len(rows) >= policy.repeat_threshold:
            wanted |= flagged_among(rows, policy)
    current = set(session.scalars(select(Complaint.id).where(Complaint.repeat_phone_flag == true())))
    added = mark(session, wanted - current, flagged=True)
    cleared = mark(session, current - wanted, flagged=False)
    return len(wanted), added, cleared
