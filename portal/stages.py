"""Which clocks a case runs: each rung starts its clocks, and staff progress stops them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.caseclocks import CaseClocks, identity_missing
from portal.clock import Stage
from portal.models import Complaint

__all__ = [
    "FEEDBACK_TRIGGERS",
    "MINUTE_STAGES",
    "RESPONSE_TRIGGERS",
    "STOPS",
    "CaseClocks",
    "awaiting_identity",
    "identity_missing",
    "open_clocks",
    "record_progress",
]
# Changzhi double commitment (双承诺): respond 45 min, on site 90 min, feedback 24 h.
MINUTE_STAGES = (Stage.RESPOND, Stage.ONSITE, Stage.FEEDBACK)
# What each staff step stops. A take is first responsibility (首接负责制): the unit owns
# the case, so its return window closes too; so does a proposal or an outcome.
STOPS: dict[str, frozenset[Stage]] = {
    "taken": frozenset({Stage.RESPOND, Stage.RETURN}),
    "replied": frozenset({Stage.RESPOND}),
    "arrived": frozenset({Stage.ONSITE}),
    "proposed": frozenset({Stage.FEEDBACK, Stage.RETURN}),
    "outcome": frozenset({Stage.FEEDBACK, Stage.RETURN, Stage.MEDIATION}),
}
# The first public reply or a take stops the respond clock (field practice: 45 minutes).
RESPONSE_TRIGGERS = frozenset({"taken", "replied"})
# An outcome or a proposed resolution is the feedback the 24-hour clock waits for.
FEEDBACK_TRIGGERS = frozenset({"proposed", "outcome"})


def awaiting_identity(complaint: Complaint) -> bool:
    """Return whether the tracking page should ask the shopper for name and address."""
    return (
        complaint.identity_requested_at is not None
        and complaint.status != "closed"
        and bool(identity_missing(complaint))
    )


def open_clocks(session: Session, complaint: Complaint, now: datetime) -> None:
    """Start the clocks of a new case's first rung (intake calls this once the case has an id)."""
    CaseClocks(session, now).open_rung(complaint)


def record_progress(session: Session, complaint: Complaint, trigger: str, now: datetime) -> None:
    """Stamp what the staff did and stop the clocks it satisfies."""
    if trigger in RESPONSE_TRIGGERS and complaint.first_response_at is None:
        complaint.first_response_at = now
    if trigger == "arrived" and complaint.onsite_at is None:
        complaint.onsite_at = now
    if trigger in FEEDBACK_TRIGGERS and complaint.feedback_at is None:
        complaint.feedback_at = now
    if trigger == "rejected":
        # The rejected offer was no feedback; the ladder (escalation.escalate) moves the case.
        complaint.feedback_at = None
    clocks = CaseClocks(session, now)
    if trigger in ("closed", "hidden", "merged"):
        # A hidden case is abuse, a merged one a duplicate: neither climbs the ladder by itself.
        clocks.stop(complaint, None, trigger)
    elif trigger in STOPS:
        clocks.stop(complaint, STOPS[trigger], trigger)
    else:
        return
    clocks.sync_headline(complaint)
