"""Which clock a case runs now: progress stops a clock, and the next one starts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.clock import Stage, stage_deadline
from portal.models import Complaint
from portal.policy import policy_for, work_calendar

# The first public reply or a take stops the respond clock (field practice: 45 minutes).
RESPONSE_TRIGGERS = frozenset({"taken", "replied"})
# An outcome or a proposed resolution is the feedback the 24-hour clock waits for.
FEEDBACK_TRIGGERS = frozenset({"proposed", "outcome"})


def start_stage(session: Session, complaint: Complaint, stage: Stage | None, now: datetime) -> None:
    """Start the clock of a stage (or stop all clocks with None)."""
    if stage is None:
        complaint.stage, complaint.stage_started_at, complaint.stage_due_at = None, None, None
        return
    policy = policy_for(session, unit_id=complaint.unit_id, market=complaint.market)
    deadline = stage_deadline(stage, now, policy, work_calendar(session))
    complaint.stage = stage.value
    complaint.stage_started_at = now
    complaint.stage_due_at = deadline.due


def record_progress(session: Session, complaint: Complaint, trigger: str, now: datetime) -> None:
    """Stamp what the staff did and move the case to the clock that now applies."""
    if trigger in RESPONSE_TRIGGERS and complaint.first_response_at is None:
        complaint.first_response_at = now
    if trigger == "arrived" and complaint.onsite_at is None:
        complaint.onsite_at = now
    if trigger in FEEDBACK_TRIGGERS and complaint.feedback_at is None:
        complaint.feedback_at = now
    if trigger == "closed":
        start_stage(session, complaint, None, now)
        return
    if complaint.rung == "regulator":
        return
    if trigger == "rejected":
        complaint.feedback_at = None
        start_stage(session, complaint, Stage.FEEDBACK, now)
        return
    if complaint.stage == Stage.RESPOND.value and complaint.first_response_at is not None:
        start_stage(session, complaint, Stage.FEEDBACK, now)
    elif complaint.stage == Stage.FEEDBACK.value and complaint.feedback_at is not None:
        start_stage(session, complaint, None, now)
