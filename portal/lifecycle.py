"""Staff working a case: the role rules, take it, reply, write a note, arrive on site."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.audit import append_event
from portal.i18n import SHANGHAI
from portal.models import Complaint, Event, Market, User
from portal.stages import record_progress

# Who may do what, in one place. Merchants settle their own cases (自行和解) but never hide
# one; going on site and calling back (回访) are the station's work (BRIEF: who uses it).
ACTION_ROLES: dict[str, frozenset[str]] = {
    "take": frozenset({"merchant", "station", "regulator"}),
    "reply": frozenset({"merchant", "station", "regulator"}),
    "note": frozenset({"merchant", "station", "regulator"}),
    "arrive": frozenset({"station", "regulator"}),
    "propose": frozenset({"merchant", "station", "regulator"}),
    "outcome": frozenset({"merchant", "station", "regulator"}),
    "close": frozenset({"merchant", "station", "regulator"}),
    "hide": frozenset({"station", "regulator"}),
    "callback": frozenset({"station"}),
    "canned": frozenset({"station"}),
    # Linking duplicates weighs the shopper's cases across shops: not the merchant's call.
    "link": frozenset({"station", "regulator"}),
    "unlink": frozenset({"station", "regulator"}),
}
# A merchant can only say it settled the case itself; mediation and refusal are others' words.
OUTCOME_ROLES: dict[str, frozenset[str]] = {
    "self_settled": frozenset({"merchant", "station", "regulator"}),
    "mediated": frozenset({"station", "regulator"}),
    "failed": frozenset({"station", "regulator"}),
    "not_accepted": frozenset({"station", "regulator"}),
}
# Actions still possible on a closed case: the call-back comes after closing; a merged
# duplicate is closed, and undoing its link is what reopens it.
AFTER_CLOSE = frozenset({"note", "hide", "callback", "unlink"})
MAX_CANNED = 20


class LifecycleError(Exception):
    """Base of every refusal from a case action."""


class StaleCaseError(LifecycleError):
    """Someone else changed the case since the form was shown."""


class ActionNotAllowedError(LifecycleError):
    """This role may not do this action (or give this outcome)."""


class CaseClosedError(LifecycleError):
    """The case is closed; only notes, hiding and the call-back remain."""


class AlreadyTakenError(LifecycleError):
    """Another person already took responsibility for the case."""


class InvalidStepError(LifecycleError):
    """The step does not fit the case now, e.g. closing without an outcome."""


class ArrivalTimeError(InvalidStepError):
    """The arrival time is not today (Shanghai), is in the future, or is before the case."""


def allowed(user: User, action: str) -> bool:
    """Return whether the user's role may do the action."""
    return user.role in ACTION_ROLES.get(action, frozenset())


@contextmanager
def guarded(complaint: Complaint, user: User, action: str, version: int) -> Iterator[None]:
    """Refuse a role, a closed case or a stale form; map a lost update race to stale."""
    number = complaint.case_number
    if not allowed(user, action):
        raise ActionNotAllowedError(action)
    if complaint.version != version:
        raise StaleCaseError(number)
    if complaint.status == "closed" and action not in AFTER_CLOSE:
        raise CaseClosedError(number)
    try:
        yield
    except StaleDataError as exc:
        # The mapper's version_id_col guard: a concurrent commit won the UPDATE.
        raise StaleCaseError(number) from exc


def staff_event(
    session: Session,
    complaint: Complaint,
    user: User,
    kind: str,
    *,
    now: datetime,
    salt: str,
    public: bool,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Stamp the case as changed and append the acting user's event."""
    complaint.updated_at = now
    return append_event(
        session,
        complaint,
        kind,
        now=now,
        salt=salt,
        actor_role=user.role,
        actor_id=user.id,
        public=public,
        body=body,
        data=data,
    )


def start_handling(complaint: Complaint, user: User) -> None:
    """Turn a new case red; the first to act on it is responsible (首接负责制)."""
    if complaint.status == "new":
        complaint.status = "handling"
    if complaint.assignee_id is None:
        complaint.assignee_id = user.id


def take(
    session: Session, complaint: Complaint, user: User, *, version: int, now: datetime, salt: str
) -> Event:
    """Take first responsibility (首接): the taker is named on the card, black turns red."""
    with guarded(complaint, user, "take", version):
        if complaint.assignee_id is not None:
            raise AlreadyTakenError(complaint.case_number)
        start_handling(complaint, user)
        event = staff_event(session, complaint, user, "taken", now=now, salt=salt, public=True)
        record_progress(session, complaint, "taken", now)
        session.flush()
    return event


def reply(
    session: Session, complaint: Complaint, user: User, text: str, *, version: int, now: datetime, salt: str
) -> Event:
    """Answer the shopper on the tracking page; a reply to a new case also turns it red."""
    with guarded(complaint, user, "reply", version):
        start_handling(complaint, user)
        event = staff_event(
            session, complaint, user, "reply", now=now, salt=salt, public=True, body=required_text(text)
        )
        record_progress(session, complaint, "replied", now)
        session.flush()
    return event


def add_note(
    session: Session, complaint: Complaint, user: User, text: str, *, version: int, now: datetime, salt: str
) -> Event:
    """Write an internal note the shopper never sees."""
    with guarded(complaint, user, "note", version):
        event = staff_event(
            session, complaint, user, "note", now=now, salt=salt, public=False, body=required_text(text)
        )
        record_progress(session, complaint, "noted", now)
        session.flush()
    return event


def record_arrival(
    session: Session,
    complaint: Complaint,
    user: User,
    *,
    at: datetime,
    version: int,
    now: datetime,
    salt: str,
) -> Event:
    """Record when staff reached the shop: today (Shanghai), not in the future, not before the case."""
    with guarded(complaint, user, "arrive", version):
        if at > now or at < complaint.created_at:
            raise ArrivalTimeError("arrival time outside the case's life")
        if at.astimezone(SHANGHAI).date() != now.astimezone(SHANGHAI).date():
            raise ArrivalTimeError("arrival must be today")
        start_handling(complaint, user)
        if complaint.onsite_at is None:
            complaint.onsite_at = at
        event = staff_event(
            session,
            complaint,
            user,
            "arrived",
            now=now,
            salt=salt,
            public=True,
            data={"local_time": at.astimezone(SHANGHAI).strftime("%H:%M")},
        )
        record_progress(session, complaint, "arrived", now)
        session.flush()
    return event


def set_canned_replies(session: Session, market: Market, user: User, replies: list[str]) -> None:
    """Replace the market's quick replies: trimmed, deduplicated, at most MAX_CANNED."""
    if not allowed(user, "canned") or user.market_id != market.id:
        raise ActionNotAllowedError("canned")
    cleaned: list[str] = []
    for line in (r.strip() for r in replies):
        if line and line not in cleaned:
            cleaned.append(line[:500])
    market.canned_replies = cleaned[:MAX_CANNED]
    session.flush()


def required_text(text: str) -> str:
    """Refuse an empty text that passed the form's checks by being all spaces."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidStepError("empty text")
    return cleaned
