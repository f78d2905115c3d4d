"""Returns (退单): a unit sends back a case outside its remit, with a reason and a channel."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import append_event
from portal.caseclocks import CaseClocks
from portal.clock import Stage
from portal.escalation import holder_name
from portal.lifecycle import ActionNotAllowedError, CaseClosedError, InvalidStepError, LifecycleError
from portal.models import Complaint, Event, StageClock, User

# Where a shopper can turn instead; the reason says which office or court exactly.
CHANNELS = {
    "12315": _l("12315 consumer hotline and platform"),
    "12345": _l("12345 government service hotline"),
    "other_regulator": _l("Another market-supervision office"),
    "other_department": _l("Another government department"),
    "consumer_association": _l("Consumer association"),
    "arbitration": _l("Arbitration"),
    "court": _l("People's court"),
}
RETURN_ROLES = frozenset({"station", "regulator", "admin"})
# Changzhi practice: a return states its reason; a bare "not our business" is refused.
MIN_REASON = 10
MAX_REASON = 500


class ReturnReasonError(LifecycleError):
    """A return needs a real reason (at least MIN_REASON characters) and a known channel."""


def check_reason(reason: str, channel: str) -> str:
    """Return the cleaned reason, or refuse a bare or channel-less one."""
    text = reason.strip()
    if len(text) < MIN_REASON or channel not in CHANNELS:
        raise ReturnReasonError(reason)
    return text[:MAX_REASON]


def _may_return(user: User, complaint: Complaint) -> bool:
    """A station returns what is at the merchant or station; a regulator what reached it."""
    if user.role == "station":
        return complaint.rung in ("merchant", "station")
    if user.role == "regulator":
        return complaint.rung == "regulator"
    return user.role == "admin"


def _returning_rung(user: User, complaint: Complaint) -> str:
    """Return the rung in whose name the case is returned."""
    if user.role in ("station", "regulator"):
        return user.role
    if complaint.rung == "merchant":
        return "station" if complaint.market_id is not None else "regulator"
    return complaint.rung


def _window_due(session: Session, complaint: Complaint) -> datetime | None:
    """Return when this rung's 20-hour return window closed (or closes), if it had one."""
    return session.scalars(
        select(StageClock.due_at)
        .where(
            StageClock.complaint_id == complaint.id,
            StageClock.stage == Stage.RETURN.value,
            StageClock.rung == complaint.rung,
        )
        .order_by(StageClock.id.desc())
        .limit(1)
    ).first()


def return_case(
    session: Session, complaint: Complaint, user: User, *, reason: str, channel: str, now: datetime, salt: str
) -> Event:
    """Send the case back as outside this unit's remit; the 2-hour tell-the-shopper clock starts."""
    if user.role not in RETURN_ROLES or not _may_return(user, complaint):
        raise ActionNotAllowedError("return")
    if complaint.status == "closed":
        raise CaseClosedError(complaint.case_number)
    if complaint.returned_at is not None:
        raise InvalidStepError("already returned")
    text = check_reason(reason, channel)
    window = _window_due(session, complaint)
    clocks = CaseClocks(session, now)
    clocks.stop(complaint, None, "returned")
    # The unit that returns the case holds it until the shopper has heard (a station may
    # return a case still at the merchant's rung).
    complaint.rung = _returning_rung(user, complaint)
    complaint.returned_at = complaint.updated_at = now
    event = append_event(
        session,
        complaint,
        "returned",
        now=now,
        salt=salt,
        actor_role=user.role,
        actor_id=user.id,
        public=True,
        body=text,
        data={
            "by": complaint.rung,
            "by_name": holder_name(session, complaint, complaint.rung),
            "channel": channel,
            "late": window is not None and now > window,
        },
    )
    # Changzhi practice: the complainant hears of a return within 2 hours of it.
    clocks.start(complaint, Stage.TELL_RETURN)
    clocks.sync_headline(complaint)
    session.flush()
    return event


def record_return_told(
    session: Session, complaint: Complaint, user: User, *, now: datetime, salt: str
) -> Event:
    """Record that staff told the shopper of the return; that closes the case."""
    if user.role not in RETURN_ROLES:
        raise ActionNotAllowedError("return")
    if complaint.status == "closed":
        raise CaseClosedError(complaint.case_number)
    clocks = CaseClocks(session, now)
    clock = clocks.find(complaint, Stage.TELL_RETURN)
    if complaint.returned_at is None or clock is None:
        raise InvalidStepError("no return to tell")
    clocks.stop(complaint, [Stage.TELL_RETURN], "told")
    clocks.sync_headline(complaint)
    event = append_event(
        session,
        complaint,
        "return_told",
        now=now,
        salt=salt,
        actor_role=user.role,
        actor_id=user.id,
        public=True,
        data={"late": now > clock.due_at},
    )
    close_as(session, complaint, user, "not_accepted", now=now, salt=salt)
    return event


def close_as(
    session: Session, complaint: Complaint, user: User, outcome: str, *, now: datetime, salt: str
) -> Event:
    """Close a case that leaves this portal's ladder, with its outcome."""
    CaseClocks(session, now).stop(complaint, None, "closed")
    complaint.status, complaint.closed_at, complaint.outcome = "closed", now, outcome
    complaint.stage, complaint.stage_started_at, complaint.stage_due_at = None, None, None
    complaint.updated_at = now
    event = append_event(
        session,
        complaint,
        "closed",
        now=now,
        salt=salt,
        actor_role=user.role,
        actor_id=user.id,
        public=True,
        data={"outcome": outcome},
    )
    session.flush()
    return event
