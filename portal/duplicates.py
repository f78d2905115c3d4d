"""Linking a duplicate into the case that continues: one matter, one case, both kept."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portal.lifecycle import InvalidStepError, guarded, staff_event
from portal.models import Complaint, Event, User
from portal.signals import SignalPolicy, duplicate_match
from portal.stages import record_progress


class NotDuplicateError(InvalidStepError):
    """The two cases are not the same shopper, shop and kind within the window, or one is linked."""


def continuing_case(one: Complaint, other: Complaint) -> tuple[Complaint, Complaint]:
    """Return (primary, duplicate): the case sent first continues; the later one is merged."""
    return (one, other) if (one.created_at, one.id) <= (other.created_at, other.id) else (other, one)


def _linkable(session: Session, primary: Complaint, duplicate: Complaint, policy: SignalPolicy) -> bool:
    """Check again on the server what the page suggested: a match, and no chain of links."""
    if not primary.phone or primary.merchant_id is None or primary.hidden_at is not None:
        return False
    if primary.linked_to_id is not None:
        return False
    same = duplicate_match(primary, policy.duplicate_window)
    match = session.scalar(select(Complaint.id).where(Complaint.id == duplicate.id, *same))
    # A case that already holds duplicates continues itself; it is never merged into another.
    holds = session.scalar(select(exists().where(Complaint.linked_to_id == duplicate.id)))
    return match is not None and not holds


def link_duplicate(
    session: Session,
    complaint: Complaint,
    other: Complaint,
    user: User,
    *,
    version: int,
    other_version: int,
    now: datetime,
    salt: str,
    policy: SignalPolicy,
) -> Event:
    """Link two open cases as one: the later is closed as merged, the earlier continues.

    The duplicate stays in the database and in the statistics (received, closed, no outcome);
    its clocks stop, and both timelines and the shopper's tracking page say which case continues.
    """
    primary, duplicate = continuing_case(complaint, other)
    versions = {complaint.id: version, other.id: other_version}
    with ExitStack() as stack:
        for case in (duplicate, primary):
            stack.enter_context(guarded(case, user, "link", versions[case.id]))
        if not _linkable(session, primary, duplicate, policy):
            raise NotDuplicateError(duplicate.case_number)
        duplicate.linked_to_id = primary.id
        duplicate.status = "closed"
        duplicate.closed_at = now
        event = staff_event(
            session,
            duplicate,
            user,
            "merged",
            now=now,
            salt=salt,
            public=True,
            data={"into": primary.case_number},
        )
        record_progress(session, duplicate, "merged", now)
        staff_event(
            session,
            primary,
            user,
            "merged_in",
            now=now,
            salt=salt,
            public=True,
            data={"from": duplicate.case_number},
        )
        session.flush()
    return event
