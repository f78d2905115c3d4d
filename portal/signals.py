"""Abuse and duplicate signals: repeat phones and possible duplicates, shown to staff only.

Professional claimants (职业索赔) are a real category: Order 121 lets staff weigh a repeat
complainant but not refuse one automatically, so nothing here changes a case. Matching is
on the stored, normalised mobile number, read through the (phone, created_at) and
(phone, merchant_id, created_at) indexes; the number never leaves the server.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from portal.models import Complaint

# The flag lists at most this many cases; the count above the list is always complete.
LISTED_MAX = 50


@dataclass(frozen=True)
class SignalPolicy:
    """When a phone counts as repeat, and how close in time a duplicate must be."""

    repeat_threshold: int = 10
    repeat_window: timedelta = timedelta(days=7)
    duplicate_window: timedelta = timedelta(days=7)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SignalPolicy:
        """Read REPEAT_PHONE_THRESHOLD, REPEAT_PHONE_WINDOW_DAYS and DUPLICATE_WINDOW_DAYS."""
        return cls(
            repeat_threshold=int(config["REPEAT_PHONE_THRESHOLD"]),
            repeat_window=timedelta(days=int(config["REPEAT_PHONE_WINDOW_DAYS"])),
            duplicate_window=timedelta(days=int(config["DUPLICATE_WINDOW_DAYS"])),
        )


@dataclass(frozen=True)
class RepeatPhone:
    """A phone's busiest window around one case: how many cases, how many shops, which ones."""

    count: int
    merchants: int
    window_days: int
    start: datetime
    end: datetime
    listed: list[Complaint]
    visible: int

    @property
    def outside_scope(self) -> int:
        """Return how many of the counted cases the viewer may not see (counted, not listed)."""
        return self.count - self.visible


def densest_window(times: Sequence[datetime], anchor: datetime, window: timedelta) -> tuple[int, int]:
    """Return [i, j) of the sorted times: the fullest span of `window` that holds `anchor`.

    A span starts at one of the times and includes both ends, so two cases exactly one
    window apart count together. Ties go to the earliest start.
    """
    best = (0, 0)
    for i, start in enumerate(times):
        if start > anchor:
            break
        if start < anchor - window:
            continue
        j = bisect_right(times, start + window)
        if j - i > best[1] - best[0]:
            best = (i, j)
    return best


def repeat_phone(
    session: Session, complaint: Complaint, policy: SignalPolicy, visible: ColumnElement[bool]
) -> RepeatPhone | None:
    """Flag the case when its phone sent at least the threshold of cases within one window.

    Every submission of the phone counts (complaints and reports, in any market); only the
    ones `visible` to the viewer are listed, the rest are a number without details.
    """
    if not complaint.phone:
        return None
    anchor, window = complaint.created_at, policy.repeat_window
    rows = session.execute(
        select(Complaint.created_at, Complaint.merchant_id)
        .where(
            Complaint.phone == complaint.phone,
            Complaint.created_at >= anchor - window,
            Complaint.created_at <= anchor + window,
        )
        .order_by(Complaint.created_at)
    ).all()
    i, j = densest_window([row.created_at for row in rows], anchor, window)
    if j - i < policy.repeat_threshold:
        return None
    start = rows[i].created_at
    in_window = (
        Complaint.phone == complaint.phone,
        Complaint.created_at >= start,
        Complaint.created_at <= start + window,
        visible,
    )
    seen = session.scalar(select(func.count()).select_from(Complaint).where(*in_window)) or 0
    listed = session.scalars(
        select(Complaint)
        .where(*in_window)
        .options(selectinload(Complaint.merchant), selectinload(Complaint.market))
        .order_by(Complaint.created_at, Complaint.id)
        .limit(LISTED_MAX)
    ).all()
    return RepeatPhone(
        count=j - i,
        merchants=len({row.merchant_id for row in rows[i:j] if row.merchant_id is not None}),
        window_days=window.days,
        start=start,
        end=start + window,
        listed=list(listed),
        visible=seen,
    )


def duplicate_match(complaint: Complaint, window: timedelta) -> tuple[ColumnElement[bool], ...]:
    """Return the conditions of a possible duplicate: same phone, shop and kind, close in time."""
    return (
        Complaint.phone == complaint.phone,
        Complaint.merchant_id == complaint.merchant_id,
        Complaint.kind == complaint.kind,
        Complaint.created_at >= complaint.created_at - window,
        Complaint.created_at <= complaint.created_at + window,
        Complaint.id != complaint.id,
        Complaint.linked_to_id.is_(None),
        Complaint.hidden_at.is_(None),
    )


def possible_duplicates(
    session: Session, complaint: Complaint, policy: SignalPolicy, visible: ColumnElement[bool]
) -> list[Complaint]:
    """Return the viewer's cases that may be the same matter as this one, oldest first."""
    if not complaint.phone or complaint.merchant_id is None:
        return []
    if complaint.linked_to_id is not None or complaint.hidden_at is not None:
        return []
    found = session.scalars(
        select(Complaint)
        .where(*duplicate_match(complaint, policy.duplicate_window), visible)
        .order_by(Complaint.created_at, Complaint.id)
        .limit(LISTED_MAX)
    )
    return list(found)


def merged_into(session: Session, complaint: Complaint, visible: ColumnElement[bool]) -> list[Complaint]:
    """Return the viewer's cases that were linked into this one as duplicates."""
    # Two steps: with a regulator's long list of units in `visible`, a planner may walk the
    # unit index instead of ix_complaint_linked_to; almost every case has no duplicate at all.
    ids = list(session.scalars(select(Complaint.id).where(Complaint.linked_to_id == complaint.id)))
    if not ids:
        return []
    found = session.scalars(
        select(Complaint).where(Complaint.id.in_(ids), visible).order_by(Complaint.created_at, Complaint.id)
    )
    return list(found)
