"""What a case's page shows of the abuse and duplicate signals, for the viewer's role and scope."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.access import SIGNAL_ROLES, complaint_scope
from portal.lifecycle import allowed
from portal.models import Complaint, User
from portal.signals import RepeatPhone, SignalPolicy, merged_into, possible_duplicates, repeat_phone


@dataclass(frozen=True)
class CaseSignals:
    """The flag, the suggested duplicates and the links of one case, as the viewer may see them."""

    repeat: RepeatPhone | None = None
    duplicates: list[Complaint] = field(default_factory=list)
    merged: list[Complaint] = field(default_factory=list)
    linked_to: Complaint | None = None
    may_link: bool = False
    may_unlink: bool = False


def case_signals(session: Session, complaint: Complaint, user: User) -> CaseSignals:
    """Gather the signals of a case for a user whose scope holds it."""
    visible = complaint_scope(session, user)
    primary = None
    if complaint.linked_to_id is not None:
        primary = session.scalars(
            select(Complaint).where(Complaint.id == complaint.linked_to_id, visible)
        ).first()
    merged = merged_into(session, complaint, visible)
    if user.role not in SIGNAL_ROLES:
        return CaseSignals(merged=merged, linked_to=primary)
    policy = SignalPolicy.from_config(current_app.config)
    return CaseSignals(
        repeat=repeat_phone(session, complaint, policy, visible),
        duplicates=possible_duplicates(session, complaint, policy, visible),
        merged=merged,
        linked_to=primary,
        may_link=allowed(user, "link") and complaint.status != "closed",
        may_unlink=allowed(user, "unlink") and primary is not None and complaint.hidden_at is None,
    )
