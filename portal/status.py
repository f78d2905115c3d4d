"""The case's colour and clock, in the plain words the shopper reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _

from portal.i18n import shanghai
from portal.models import Complaint

COLOURS = {"new": "black", "handling": "red", "closed": "green"}


@dataclass(frozen=True)
class CaseStatus:
    """What the tracking page and the board say about a case right now."""

    colour: str
    label: str
    clock_text: str | None
    overdue: bool
    minutes_left: int | None


def _rung_label(rung: str) -> str:
    """Translate who holds the case now."""
    labels = {
        "merchant": _("the merchant"),
        "station": _("the market's rights station"),
        "regulator": _("the market-supervision office"),
    }
    return labels.get(rung, rung)


def _stage_goal(stage: str | None) -> str:
    """Say in plain words what the current stage's clock waits for."""
    goals = {
        "respond": _("reply to you"),
        "onsite": _("come to you at the shop"),
        "feedback": _("give you a result"),
        "accept": _("decide whether to accept the case"),
        "mediation": _("finish mediation"),
        "verify": _("verify the report"),
        "return": _("return or accept the case"),
        "tell_return": _("tell you where the case went"),
        "termination_notice": _("tell you the mediation has ended"),
    }
    return goals.get(stage or "", _("act on the case"))


def case_status(complaint: Complaint, now: datetime) -> CaseStatus:
    """Describe colour, stage and time left, e.g. 商户需在 14:35 前回复您（还剩 23 分钟）."""
    colour = COLOURS.get(complaint.status, "black")
    labels = {"black": _("New, waiting to be taken"), "red": _("Being handled"),
              "green": _("Closed")}
    if complaint.status == "closed" or complaint.stage_due_at is None:
        return CaseStatus(colour, labels[colour], None, False, None)
    due = complaint.stage_due_at
    left = due - now
    local_due = shanghai(due)
    assert local_due is not None
    when = local_due.strftime("%H:%M") if left < timedelta(hours=20) else local_due.strftime(
        "%m-%d %H:%M"
    )
    who, goal = _rung_label(complaint.rung), _stage_goal(complaint.stage)
    if left.total_seconds() >= 0:
        minutes = int(left.total_seconds() // 60)
        text = _("%(who)s must %(goal)s by %(when)s (%(left)s left)", who=who, goal=goal,
                 when=when, left=_duration(minutes))
        return CaseStatus(colour, labels[colour], text, False, minutes)
    text = _("Overdue since %(when)s: %(who)s did not %(goal)s in time.", who=who, goal=goal,
             when=when)
    return CaseStatus(colour, labels[colour], text, True, int(left.total_seconds() // 60))


def _duration(minutes: int) -> str:
    """Format a remaining time as minutes, hours or days."""
    if minutes < 60:
        return _("%(n)d min", n=minutes)
    if minutes < 48 * 60:
        return _("%(h)d h %(m)d min", h=minutes // 60, m=minutes % 60)
    return _("%(d)d days", d=minutes // (24 * 60))
