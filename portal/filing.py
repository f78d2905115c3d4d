"""Order 121 filing: the complainant's identity, asked for on escalation, and the 12315 package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import append_event
from portal.caseclocks import CaseClocks, identity_missing
from portal.clock import Stage
from portal.forms import WISHES
from portal.i18n import shanghai
from portal.lifecycle import LifecycleError
from portal.models import Complaint, Event, User
from portal.repeat_flags import flag_arrival
from portal.signals import SignalPolicy
from portal.stages import awaiting_identity

# Order 121 Art.14 lists what a complaint filed with a regulator carries; the package holds
# exactly these, plus the case's full timeline.
PACKAGE_KEYS = ("complainant", "merchant", "request", "facts", "timeline")
__all__ = [
    "PACKAGE_KEYS",
    "awaiting_identity",
    "filing_package",
    "package_ready",
    "provide_identity",
    "record_package_view",
]


class IdentityNotRequestedError(LifecycleError):
    """The case is not waiting for the shopper's identity (never asked, or closed)."""


def provide_identity(
    session: Session,
    complaint: Complaint,
    *,
    name: str,
    address: str,
    phone: str | None,
    now: datetime,
    salt: str,
    signals: SignalPolicy = SignalPolicy(),  # noqa: B008  (frozen: the configured defaults)
) -> Event:
    """Store the shopper's name and address; the regulator's 7-working-day clock starts now."""
    if complaint.identity_requested_at is None or complaint.status == "closed":
        raise IdentityNotRequestedError(complaint.case_number)
    complaint.name, complaint.address = name.strip()[:60], address.strip()[:200]
    if phone and not complaint.phone:
        complaint.phone, complaint.phone_last4 = phone, phone[-4:]
        # A number given only now joins that number's windows like a new arrival.
        session.flush()
        flag_arrival(session, complaint, signals)
    complaint.updated_at = now
    # Personal data stays in the columns; the chain only records that it arrived.
    event = append_event(
        session, complaint, "identity_given", now=now, salt=salt, actor_role="shopper", public=True
    )
    clocks = CaseClocks(session, now)
    waiting = complaint.accepted_at is None and clocks.find(complaint, Stage.ACCEPT) is None
    if complaint.rung == "regulator" and waiting and not identity_missing(complaint):
        # Order 121: the period to accept runs from receipt of a complete complaint.
        clocks.start(complaint, Stage.ACCEPT)
        clocks.sync_headline(complaint)
    session.flush()
    return event


def _request_text(complaint: Complaint) -> str:
    """Say what the complainant asks for, with the amount involved."""
    wish = str(WISHES[complaint.wish]) if complaint.wish in WISHES else _("Not stated")
    if complaint.amount_fen is None:
        return wish
    return _("%(wish)s; amount involved %(yuan)s yuan", wish=wish, yuan=f"{complaint.amount_fen / 100:.2f}")


def _facts(complaint: Complaint, events: list[Event]) -> str:
    """Return the shopper's own account: the description, then what they added later."""
    added = [e.body for e in events if e.kind == "shopper_info" and e.body]
    return "\n\n".join([complaint.description, *added])


def filing_package(session: Session, complaint: Complaint) -> dict[str, Any]:
    """Return the 12315-ready package: exactly Order 121's fields and the full timeline."""
    events = list(
        session.scalars(select(Event).where(Event.complaint_id == complaint.id).order_by(Event.seq))
    )
    shop = complaint.merchant or complaint.market
    timeline = [
        {
            "at": shanghai(e.created_at).isoformat(timespec="minutes"),  # type: ignore[union-attr]
            "kind": e.kind,
            "actor": e.actor_role,
            "text": e.body or "",
            "data": e.data or {},
        }
        for e in events
    ]
    return {
        "complainant": {
            "name": complaint.name or "",
            "phone": complaint.phone or "",
            "address": complaint.address or "",
        },
        "merchant": {"name": shop.name if shop else "", "address": shop.address if shop else ""},
        "request": _request_text(complaint),
        "facts": _facts(complaint, events),
        "timeline": timeline,
    }


def package_ready(complaint: Complaint) -> bool:
    """Return whether the case offers the 12315 package: a complaint that reached the regulator."""
    return complaint.kind == "complaint" and complaint.rung == "regulator"


def record_package_view(
    session: Session, complaint: Complaint, user: User, fmt: str, *, now: datetime, salt: str
) -> Event:
    """Put on the record who saw the package (it holds the full phone, name and address)."""
    # Hold the case's row so two views at once do not race for the same event seq.
    session.execute(select(Complaint.id).where(Complaint.id == complaint.id).with_for_update())
    return append_event(
        session,
        complaint,
        "filing_package",
        now=now,
        salt=salt,
        actor_role=user.role,
        actor_id=user.id,
        data={"format": fmt},
    )
