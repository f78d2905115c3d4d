"""The ladder: merchant → the market's rights station → the regulator unit over the market."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from portal.audit import ChainedEvent
from portal.cards import ChainWriter
from portal.caseclocks import CaseClocks, identity_missing
from portal.lifecycle import ActionNotAllowedError, CaseClosedError, InvalidStepError, LifecycleError
from portal.models import Complaint, Market, RegulatorUnit, User

Actor = User | Literal["shopper", "system"]
# Station staff escalate by hand (the issue); an admin may act for any unit.
MANUAL_ROLES = frozenset({"station", "admin"})
MAX_REASON = 500


class LadderTopError(LifecycleError):
    """The case is already with the regulator; there is no rung above."""


class ReasonRequiredError(LifecycleError):
    """A hand escalation needs a reason the next rung can read."""


def rung_above(complaint: Complaint) -> str:
    """Return the next rung: a standalone merchant goes straight to its regulator unit."""
    if complaint.rung == "merchant":
        return "station" if complaint.market_id is not None else "regulator"
    if complaint.rung == "station":
        return "regulator"
    raise LadderTopError(complaint.case_number)


def holder_name(session: Session, complaint: Complaint, rung: str) -> str:
    """Return who holds a rung of this case, by name (never personal data)."""
    if rung == "station" and complaint.market_id is not None:
        market = session.get(Market, complaint.market_id)
        return market.station_name if market is not None else ""
    if rung == "regulator":
        unit = session.get(RegulatorUnit, complaint.unit_id)
        return unit.name if unit is not None else ""
    return complaint.merchant.name if complaint.merchant is not None else ""


def _cause_and_actor(actor: Actor) -> tuple[str, str, int | None]:
    """Return (cause, actor_role, actor_id) for an escalation by this actor."""
    if actor == "system":
        return "breach", "system", None
    if actor == "shopper":
        return "rejection", "shopper", None
    if actor.role not in MANUAL_ROLES:
        raise ActionNotAllowedError("escalate")
    return "manual", actor.role, actor.id


def escalate(
    session: Session,
    complaint: Complaint,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    salt: str,
    clocks: CaseClocks | None = None,
    writer: ChainWriter | None = None,
    breach: dict[str, Any] | None = None,
) -> ChainedEvent:
    """Move the case one rung up: stop this rung's clocks, start the next rung's.

    `actor` is "system" for a breached clock (the sweep passes `breach`), "shopper" for a
    rejected resolution, or the station user escalating by hand with a reason.
    """
    cause, role, actor_id = _cause_and_actor(actor)
    text = reason.strip()[:MAX_REASON]
    if cause == "manual" and not text:
        raise ReasonRequiredError(complaint.case_number)
    if complaint.status == "closed":
        raise CaseClosedError(complaint.case_number)
    if complaint.returned_at is not None:
        raise InvalidStepError("the case was returned")
    to = rung_above(complaint)
    standalone = writer is None
    clocks = clocks or CaseClocks(session, now)
    writer = writer or ChainWriter(session, salt)
    came_from = complaint.rung
    clocks.stop(complaint, None, "escalated")
    # The next rung takes the case afresh (首接负责制): black again, nobody responsible yet.
    clocks.set_case(
        complaint,
        rung=to,
        status="new",
        assignee_id=None,
        feedback_at=None,
        escalated_at=now,
        escalation_cause=cause,
        updated_at=now,
    )
    event = writer.append(
        complaint,
        "escalated",
        now=now,
        actor_role=role,
        actor_id=actor_id,
        public=True,
        body=text or None,
        data={
            "from": came_from,
            "to": to,
            "to_name": holder_name(session, complaint, to),
            "cause": cause,
            **(breach or {}),
        },
    )
    missing = identity_missing(complaint)
    if to == "regulator" and complaint.kind == "complaint" and missing:
        # Order 121 Art.14: a complaint to the regulator names the complainant; the clock
        # to accept waits until the shopper gives what is missing on the tracking page.
        clocks.set_case(complaint, identity_requested_at=now)
        writer.append(complaint, "identity_requested", now=now, public=True, data={"missing": missing})
    clocks.open_rung(complaint)
    if standalone:
        session.flush()
    return event
