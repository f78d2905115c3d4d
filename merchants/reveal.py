"""Revealing a shopper's full phone number: allowed to some roles, and always on the record."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.access import can_reveal_phone, current_staff, get_complaint_or_404, roles
from merchants.blueprint import bp
from portal.audit import append_event
from portal.db import get_session, utcnow
from portal.models import Complaint, User

REVEAL_ROLES = ("station", "regulator", "admin")


class RevealNotAllowedError(PermissionError):
    """Merchant staff see the number masked only (PIPL: show it only to those who need it)."""


def reveal_phone(session: Session, user: User, complaint: Complaint, now: datetime, salt: str) -> str:
    """Return the full number and record who saw it, when; the event never holds the number."""
    if not can_reveal_phone(user):
        raise RevealNotAllowedError(complaint.case_number)
    if not complaint.phone:
        return ""
    # Hold the case's row so two reveals at once do not race for the same event seq.
    session.execute(select(Complaint.id).where(Complaint.id == complaint.id).with_for_update())
    append_event(
        session,
        complaint,
        "phone_revealed",
        now=now,
        salt=salt,
        actor_role=user.role,
        actor_id=user.id,
        public=False,
    )
    return complaint.phone


@bp.post("/complaints/<case_number>/reveal-phone", endpoint="reveal_phone")
@roles(*REVEAL_ROLES)
def reveal_phone_page(case_number: str) -> str:
    """Show the number once, answering the POST itself so it is never in a URL or a redirect."""
    session, user = get_session(), current_staff()
    complaint = get_complaint_or_404(session, user, case_number)
    phone = reveal_phone(session, user, complaint, utcnow(), current_app.config["PHONE_SALT"])
    session.commit()
    return render_template("office/reveal.html", complaint=complaint, phone=phone)
