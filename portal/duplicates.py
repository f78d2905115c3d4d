"""Linking a duplicate into the case that continues: one matter, one case, both kept."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portal.clock import Stage
from portal.lifecycle import InvalidStepError, guarded, staff_event
from portal.models import Complaint, Event, StageClock, User
from portal.signals import SignalPolicy, duplicate_match
from portal.stages import CaseClocks, record_progress


class NotDuplicateError(InvalidStepError):
    """The two cases are not the same shopper, shop and kind within the window, or one is linked."""


class NotLinkedError(InvalidStepError):
    """The case is not a duplicate merged into that case (or it is hidden): no link to undo."""


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


def _restart_clocks(
    session: Session, duplicate: Complaint, merged_at: datetime | None, now: datetime
) -> None:
    """Start again, from now, each clock of the case's rung that the merge stopped.

    The case left the unit's queue through a staff mistake, so each of those clocks gets its
    full time from the undo, as if the rung had just received the case: resumed with its old
    due moment it would mostly be overdue at once, and the sweep would escalate it for a delay
    the shopper's side never caused. Clocks already stopped before the merge (answered,
    visited) stay stopped; the merge and the undo both stay on the timeline.
    """
    stopped = session.scalars(
        select(StageClock.stage)
        .where(
            StageClock.complaint_id == duplicate.id,
            StageClock.rung == duplicate.rung,
            StageClock.stop_reason == "merged",
            StageClock.stopped_at == merged_at,
        )
        .order_by(StageClock.id)
    )
    clocks = CaseClocks(session, now)
    for stage in dict.fromkeys(stopped):
        clocks.start(duplicate, Stage(stage))
    clocks.sync_headline(duplicate)


def unlink_duplicate(
    session: Session,
    duplicate: Complaint,
    primary: Complaint,
    user: User,
    reason: str,
    *,
    version: int,
    other_version: int,
    now: datetime,
    salt: str,
) -> Event:
    """Undo a link made by mistake: the merged case reopens on its own; nothing is deleted.

    Both timelines get a new public event (the reason stays with staff), the merge events
    stay, and the reopened case's clocks restart (see _restart_clocks). The case continuing
    may have closed since; it only gets its event.
    """
    versions = {duplicate.id: version, primary.id: other_version}
    with ExitStack() as stack:
        for case in (duplicate, primary):
            stack.enter_context(guarded(case, user, "unlink", versions[case.id]))
        if duplicate.linked_to_id != primary.id or duplicate.hidden_at is not None:
            raise NotLinkedError(duplicate.case_number)
        cleaned = reason.strip()[:300]
        if not cleaned:
            raise InvalidStepError("undoing a link needs a reason")
        merged_at = duplicate.closed_at
        duplicate.linked_to_id, duplicate.closed_at = None, None
        # Back to the colour it had: taken cases are red (first responsibility stays), others black.
        duplicate.status = "handling" if duplicate.assignee_id is not None else "new"
        event = staff_event(
            session,
            duplicate,
            user,
            "unmerged",
            now=now,
            salt=salt,
            public=True,
            body=cleaned,
            data={"from": primary.case_number},
        )
        staff_event(
            session,
            primary,
            user,
            "unmerged_out",
            now=now,
            salt=salt,
            public=True,
            body=cleaned,
            data={"case": duplicate.case_number},
        )
        _restart_clocks(session, duplicate, merged_at, now)
        session.flush()
    return event
