"""The regulator's Order 121 clocks: accept or refuse, mediate, pause, extend, end, notify."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.audit import ChainedEvent
from portal.cards import ChainWriter
from portal.caseclocks import CaseClocks, identity_missing
from portal.clock import CardKind, Stage
from portal.clockstate import Clock, reschedule
from portal.lifecycle import (
    ActionNotAllowedError,
    CaseClosedError,
    InvalidStepError,
    LifecycleError,
    staff_event,
)
from portal.models import Complaint, Event, User
from portal.returns import check_reason, close_as

REGULATOR_ROLES = frozenset({"regulator", "admin"})
PAUSE_CAUSES = ("testing", "appraisal")


class IdentityMissingError(LifecycleError):
    """Order 121: a complaint is accepted only with the complainant's name, phone and address."""


class NoSuchClockError(LifecycleError):
    """The case does not run the clock this step works on (or already finished it)."""


def _check(complaint: Complaint, user: User) -> None:
    """Refuse anyone but the regulator, and any case not with the regulator or closed."""
    if user.role not in REGULATOR_ROLES:
        raise ActionNotAllowedError("regulator")
    if complaint.status == "closed":
        raise CaseClosedError(complaint.case_number)
    if complaint.rung != "regulator":
        raise InvalidStepError("not with the regulator")


def _clock(clocks: CaseClocks, complaint: Complaint, stage: Stage) -> Clock:
    """Return the running clock of a stage, or refuse the step."""
    clock = clocks.find(complaint, stage)
    if clock is None:
        raise NoSuchClockError(stage.value)
    return clock


def _event(
    session: Session,
    complaint: Complaint,
    user: User,
    kind: str,
    now: datetime,
    salt: str,
    body: str | None = None,
    **data: Any,
) -> Event:
    """Stamp the case and append the regulator's public event."""
    return staff_event(session, complaint, user, kind, now=now, salt=salt, public=True, body=body, data=data)


def accept(session: Session, complaint: Complaint, user: User, *, now: datetime, salt: str) -> Event:
    """Accept the complaint (受理): the 60-day mediation clock starts."""
    _check(complaint, user)
    if identity_missing(complaint):
        raise IdentityMissingError(complaint.case_number)
    clocks = CaseClocks(session, now)
    accept_clock = _clock(clocks, complaint, Stage.ACCEPT)
    clocks.stop(complaint, [Stage.ACCEPT, Stage.RETURN], "accepted")
    complaint.accepted_at = now
    complaint.status = "handling"
    complaint.assignee_id = complaint.assignee_id or user.id
    mediation = clocks.start(complaint, Stage.MEDIATION)
    clocks.sync_headline(complaint)
    return _event(
        session,
        complaint,
        user,
        "case_accepted",
        now,
        salt,
        late=now > accept_clock.due_at,
        mediation_due=mediation.due_at.isoformat(),
    )


def refuse(
    session: Session, complaint: Complaint, user: User, *, reason: str, channel: str, now: datetime, salt: str
) -> Event:
    """Refuse to accept; Order 121 asks for the reason and the other routes open to the shopper."""
    _check(complaint, user)
    clocks = CaseClocks(session, now)
    accept_clock = clocks.find(complaint, Stage.ACCEPT)
    if complaint.accepted_at is not None or complaint.kind != "complaint":
        raise InvalidStepError("nothing to refuse")
    text = check_reason(reason, channel)
    late = accept_clock is not None and now > accept_clock.due_at
    event = _event(session, complaint, user, "case_refused", now, salt, body=text, channel=channel, late=late)
    close_as(session, complaint, user, "not_accepted", now=now, salt=salt)
    return event


def pause_mediation(
    session: Session, complaint: Complaint, user: User, *, cause: str, now: datetime, salt: str
) -> Event:
    """Stop mediation's clock while testing or appraisal runs (Order 121: it does not count)."""
    _check(complaint, user)
    if cause not in PAUSE_CAUSES:
        raise InvalidStepError("pause for testing or appraisal")
    clocks = CaseClocks(session, now)
    clock = _clock(clocks, complaint, Stage.MEDIATION)
    if clock.paused_since is not None:
        raise InvalidStepError("already paused")
    clock.paused_since = now
    clock.next_card_at = None
    clocks.sync_headline(complaint)
    return _event(session, complaint, user, "mediation_paused", now, salt, cause=cause)


def resume_mediation(
    session: Session, complaint: Complaint, user: User, *, now: datetime, salt: str
) -> Event:
    """Restart mediation's clock; the paused time moves its end back (rounded up to days)."""
    _check(complaint, user)
    clocks = CaseClocks(session, now)
    clock = _clock(clocks, complaint, Stage.MEDIATION)
    if clock.paused_since is None:
        raise InvalidStepError("not paused")
    clock.paused_seconds = (clock.paused_seconds or 0) + int((now - clock.paused_since).total_seconds())
    clock.paused_since = None
    reschedule(
        clock, clocks.policy(complaint), clocks.calendar, CardKind(clock.next_card or CardKind.BREACH.value)
    )
    clocks.sync_headline(complaint)
    return _event(
        session,
        complaint,
        user,
        "mediation_resumed",
        now,
        salt,
        paused_seconds=clock.paused_seconds,
        mediation_due=clock.due_at.isoformat(),
    )


def extend_verify(session: Session, complaint: Complaint, user: User, *, now: datetime, salt: str) -> Event:
    """Extend a report's verification once, by 15 working days (Order 121)."""
    _check(complaint, user)
    clocks = CaseClocks(session, now)
    clock = _clock(clocks, complaint, Stage.VERIFY)
    if clock.extended:
        raise InvalidStepError("already extended")
    clock.extended = True
    reschedule(
        clock, clocks.policy(complaint), clocks.calendar, CardKind(clock.next_card or CardKind.BREACH.value)
    )
    clocks.sync_headline(complaint)
    return _event(session, complaint, user, "verify_extended", now, salt, verify_due=clock.due_at.isoformat())


def end_mediation(
    session: Session,
    complaint: Complaint,
    *,
    actor: User | None,
    now: datetime,
    salt: str,
    clocks: CaseClocks | None = None,
    writer: ChainWriter | None = None,
    late: bool = False,
) -> ChainedEvent:
    """End mediation without agreement (by hand, or at 60 days); the 7-day notice clock starts."""
    if actor is not None:
        _check(complaint, actor)
    standalone = writer is None
    clocks = clocks or CaseClocks(session, now)
    writer = writer or ChainWriter(session, salt)
    _clock(clocks, complaint, Stage.MEDIATION)
    clocks.stop(complaint, [Stage.MEDIATION], "ended")
    clocks.set_case(complaint, updated_at=now)
    event = writer.append(
        complaint,
        "mediation_ended",
        now=now,
        public=True,
        actor_role=actor.role if actor else "system",
        actor_id=actor.id if actor else None,
        data={"late": late},
    )
    # Order 121: both parties are told of the termination within 7 working days.
    clocks.start(complaint, Stage.TERMINATION_NOTICE)
    clocks.sync_headline(complaint)
    if standalone:
        session.flush()
    return event


def notify_termination(
    session: Session, complaint: Complaint, user: User, *, now: datetime, salt: str
) -> Event:
    """Record that both parties were told mediation ended; the case closes as failed."""
    _check(complaint, user)
    clocks = CaseClocks(session, now)
    clock = _clock(clocks, complaint, Stage.TERMINATION_NOTICE)
    clocks.stop(complaint, [Stage.TERMINATION_NOTICE], "notified")
    event = _event(session, complaint, user, "termination_notified", now, salt, late=now > clock.due_at)
    close_as(session, complaint, user, "failed", now=now, salt=salt)
    return event
