"""The shopper's side of a resolution: accept or reject an offer, rate a closed case once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.audit import append_event
from portal.closing import pending_proposal
from portal.lifecycle import InvalidStepError, LifecycleError, StaleCaseError
from portal.models import Complaint, Event
from portal.stages import record_progress

SCORES = range(1, 6)


class NoPendingProposalError(LifecycleError):
    """There is no open offer to answer (already answered, or superseded by a newer one)."""


class AlreadyRatedError(LifecycleError):
    """The shopper has already rated this case; a rating is given once."""


@contextmanager
def _race_is_stale(complaint: Complaint) -> Iterator[None]:
    """Map a lost race on the case's version counter to a stale-case refusal."""
    number = complaint.case_number
    try:
        yield
    except StaleDataError as exc:
        raise StaleCaseError(number) from exc


def _shopper_event(
    session: Session,
    complaint: Complaint,
    kind: str,
    *,
    now: datetime,
    salt: str,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Stamp the case and append the shopper's public event."""
    complaint.updated_at = now
    return append_event(
        session, complaint, kind, now=now, salt=salt, actor_role="shopper", public=True, body=body, data=data
    )


def _open_offer(session: Session, complaint: Complaint, proposal_seq: int) -> Event:
    """Return the offer the shopper's form answers, if it is still the open one."""
    offer = pending_proposal(session, complaint)
    if offer is None or offer.seq != proposal_seq:
        raise NoPendingProposalError(complaint.case_number)
    return offer


def accept_proposal(
    session: Session, complaint: Complaint, *, proposal_seq: int, now: datetime, salt: str
) -> Event:
    """Record that the shopper accepts the offered resolution."""
    with _race_is_stale(complaint):
        offer = _open_offer(session, complaint, proposal_seq)
        event = _shopper_event(
            session, complaint, "accepted", now=now, salt=salt, data={"proposal": offer.seq}
        )
        record_progress(session, complaint, "accepted", now)
        session.flush()
    return event


def reject_proposal(
    session: Session, complaint: Complaint, *, proposal_seq: int, reason: str, now: datetime, salt: str
) -> Event:
    """Record the shopper's rejection; it reopens the case, which goes back to handling."""
    with _race_is_stale(complaint):
        offer = _open_offer(session, complaint, proposal_seq)
        reopened = complaint.status == "closed"
        complaint.status = "handling"
        if reopened:
            # The rejected settlement is no outcome any more; closing again needs a new one.
            complaint.closed_at, complaint.outcome, complaint.recovered_fen = None, None, None
        event = _shopper_event(
            session,
            complaint,
            "rejected",
            now=now,
            salt=salt,
            body=reason.strip()[:500] or None,
            data={"proposal": offer.seq, "reopened": reopened},
        )
        record_progress(session, complaint, "rejected", now)
        on_rejection(session, complaint, now, salt)
        session.flush()
    return event


def on_rejection(session: Session, complaint: Complaint, now: datetime, salt: str) -> None:
    """Climb one rung: a shopper who rejects the offer is taken to the next level up."""
    from portal.escalation import LadderTopError, escalate

    try:
        escalate(session, complaint, reason="", actor="shopper", now=now, salt=salt)
    except (LadderTopError, InvalidStepError):
        # Already with the regulator (mediation goes on there), or returned as outside its remit.
        return


def rate(
    session: Session, complaint: Complaint, *, score: int, comment: str, now: datetime, salt: str
) -> Event:
    """Record the shopper's satisfaction (1–5) with the closed case, once."""
    with _race_is_stale(complaint):
        if complaint.status != "closed" or complaint.linked_to_id is not None:
            raise InvalidStepError("rate a closed case that was not merged into another")
        if complaint.rated_at is not None:
            raise AlreadyRatedError(complaint.case_number)
        if score not in SCORES:
            raise InvalidStepError("score out of range")
        complaint.satisfaction = score
        complaint.rating_comment = comment.strip()[:500] or None
        complaint.rated_at = now
        event = _shopper_event(
            session,
            complaint,
            "rated",
            now=now,
            salt=salt,
            body=complaint.rating_comment,
            data={"score": score},
        )
        record_progress(session, complaint, "rated", now)
        session.flush()
    return event
