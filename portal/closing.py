"""Finishing a case: propose a resolution, record the outcome, close, hide, call back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.lifecycle import (
    OUTCOME_ROLES,
    ActionNotAllowedError,
    InvalidStepError,
    guarded,
    required_text,
    staff_event,
    start_handling,
)
from portal.models import Complaint, Event, User
from portal.stages import record_progress

OUTCOMES = tuple(OUTCOME_ROLES)


class OutcomeMissingError(InvalidStepError):
    """A case is closed only once its outcome is recorded."""


OUTCOME_LABELS = {
    "self_settled": _l("Self-settled"),
    "mediated": _l("Mediated"),
    "failed": _l("Mediation failed"),
    "not_accepted": _l("Not accepted"),
}


def outcome_label(code: str | None) -> str:
    """Translate an outcome code into plain words."""
    return str(OUTCOME_LABELS[code]) if code in OUTCOME_LABELS else str(_l("No outcome yet"))


def yuan(fen: int | None) -> str:
    """Format an amount in fen as yuan with two decimals, e.g. 128.50."""
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"


def propose(
    session: Session,
    complaint: Complaint,
    user: User,
    offer: str,
    amount_fen: int | None,
    *,
    version: int,
    now: datetime,
    salt: str,
) -> Event:
    """Offer a resolution the shopper can accept or reject on the tracking page."""
    with guarded(complaint, user, "propose", version):
        start_handling(complaint, user)
        data = {"amount_fen": amount_fen} if amount_fen is not None else None
        event = staff_event(
            session,
            complaint,
            user,
            "proposed",
            now=now,
            salt=salt,
            public=True,
            body=required_text(offer),
            data=data,
        )
        record_progress(session, complaint, "proposed", now)
        session.flush()
    return event


def open_proposal(events: Sequence[Event]) -> Event | None:
    """Return the latest proposal the shopper has not yet answered, from the case's timeline."""
    answers = [event for event in events if event.kind in ("proposed", "accepted", "rejected")]
    last = max(answers, key=lambda event: event.seq, default=None)
    return last if last is not None and last.kind == "proposed" else None


def pending_proposal(session: Session, complaint: Complaint) -> Event | None:
    """Return the latest proposal the shopper has not yet answered."""
    last = session.scalars(
        select(Event)
        .where(Event.complaint_id == complaint.id, Event.kind.in_(("proposed", "accepted", "rejected")))
        .order_by(Event.seq.desc())
        .limit(1)
    ).first()
    return open_proposal([last] if last is not None else [])


def record_outcome(
    session: Session,
    complaint: Complaint,
    user: User,
    outcome: str,
    recovered_fen: int | None,
    *,
    explanation: str = "",
    version: int,
    now: datetime,
    salt: str,
) -> Event:
    """Record how the case ended and the money recovered for the shopper (挽回经济损失)."""
    with guarded(complaint, user, "outcome", version):
        if outcome not in OUTCOME_ROLES:
            raise InvalidStepError(f"unknown outcome {outcome!r}")
        if user.role not in OUTCOME_ROLES[outcome]:
            raise ActionNotAllowedError(outcome)
        if recovered_fen is not None and recovered_fen < 0:
            raise InvalidStepError("negative amount")
        start_handling(complaint, user)
        complaint.outcome = outcome
        complaint.recovered_fen = recovered_fen
        event = staff_event(
            session,
            complaint,
            user,
            "outcome",
            now=now,
            salt=salt,
            public=True,
            body=explanation.strip() or None,
            data={"outcome": outcome, "recovered_fen": recovered_fen},
        )
        record_progress(session, complaint, "outcome", now)
        session.flush()
    return event


def close(
    session: Session, complaint: Complaint, user: User, *, version: int, now: datetime, salt: str
) -> Event:
    """Close the case, turning it green; an outcome must be recorded first."""
    with guarded(complaint, user, "close", version):
        if complaint.outcome is None:
            raise OutcomeMissingError(complaint.case_number)
        complaint.status = "closed"
        complaint.closed_at = now
        event = staff_event(
            session,
            complaint,
            user,
            "closed",
            now=now,
            salt=salt,
            public=True,
            data={"outcome": complaint.outcome},
        )
        record_progress(session, complaint, "closed", now)
        session.flush()
    return event


def hide(
    session: Session, complaint: Complaint, user: User, reason: str, *, version: int, now: datetime, salt: str
) -> Event:
    """Hide a case with a reason; nothing is deleted and it stays in the statistics."""
    with guarded(complaint, user, "hide", version):
        if complaint.hidden_at is not None:
            raise InvalidStepError("already hidden")
        cleaned = reason.strip()
        if not cleaned:
            raise InvalidStepError("hiding needs a reason")
        complaint.hidden_at = now
        complaint.hidden_reason = cleaned[:300]
        event = staff_event(
            session, complaint, user, "hidden", now=now, salt=salt, public=False, body=complaint.hidden_reason
        )
        record_progress(session, complaint, "hidden", now)
        session.flush()
    return event


def record_callback(
    session: Session,
    complaint: Complaint,
    user: User,
    *,
    reached: bool,
    satisfied: bool | None,
    note: str = "",
    version: int,
    now: datetime,
    salt: str,
) -> Event:
    """Record the station's call-back (回访) after closing: reached or not, satisfied or not."""
    with guarded(complaint, user, "callback", version):
        if complaint.status != "closed":
            raise InvalidStepError("call back after closing")
        event = staff_event(
            session,
            complaint,
            user,
            "callback",
            now=now,
            salt=salt,
            public=False,
            body=note.strip() or None,
            data={"reached": reached, "satisfied": satisfied if reached else None},
        )
        record_progress(session, complaint, "callback", now)
        session.flush()
    return event
