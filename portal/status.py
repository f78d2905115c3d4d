"""The case's colour and clock, in the plain words the shopper reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _

from portal.caseclocks import NOT_HEADLINE
from portal.clock import Policy, Stage, stage_deadline
from portal.clockstate import Clock
from portal.i18n import shanghai
from portal.models import Complaint
from portal.stages import awaiting_identity
from portal.workdays import WorkCalendar

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
    """Describe colour, stage and time left, e.g. 商户需在 14:35 前回复您（还剩 23 分钟）.

    After a climb up the ladder it says so first, e.g. 已超时，已于 14:36 转交市场维权站。
    """
    colour = COLOURS.get(complaint.status, "black")
    labels = {"black": _("New, waiting to be taken"), "red": _("Being handled"), "green": _("Closed")}
    label = labels[colour]
    if complaint.status == "closed":
        return CaseStatus(colour, label, None, False, None)
    if complaint.returned_at is not None:
        text = _(
            "%(who)s returned your case at %(when)s as outside its remit; the reason and "
            "where to turn are below.",
            who=_rung_label(complaint.rung),
            when=_when(complaint.returned_at, now),
        )
        return CaseStatus(colour, label, text, False, None)
    notes = [note for note in (ladder_note(complaint, now), _identity_note(complaint)) if note]
    clock = _clock_text(complaint, now)
    if clock is None:
        return CaseStatus(colour, label, _sentences(notes) or None, False, None)
    text, overdue, minutes = clock
    return CaseStatus(colour, label, _sentences([*notes, text]), overdue, minutes)


def _sentences(parts: list[str]) -> str:
    """Join sentences: a space after an English full stop, none after a Chinese one."""
    joined = ""
    for part in parts:
        joined += (" " if joined and joined[-1].isascii() else "") + part
    return joined


def _clock_text(complaint: Complaint, now: datetime) -> tuple[str, bool, int | None] | None:
    """Say what the headline clock waits for and by when; None when no clock runs."""
    who, goal = _rung_label(complaint.rung), _stage_goal(complaint.stage)
    if complaint.stage is not None and complaint.stage_due_at is None:
        # Order 121: testing or appraisal time does not count towards mediation.
        return (
            _("The clock is paused while testing or appraisal runs; that time does not count."),
            False,
            None,
        )
    if complaint.stage_due_at is None:
        return None
    due = complaint.stage_due_at
    left = due - now
    local_due = shanghai(due)
    assert local_due is not None
    when = local_due.strftime("%H:%M") if left < timedelta(hours=20) else local_due.strftime("%m-%d %H:%M")
    if left.total_seconds() >= 0:
        minutes = int(left.total_seconds() // 60)
        text = _(
            "%(who)s must %(goal)s by %(when)s (%(left)s left)",
            who=who,
            goal=goal,
            when=when,
            left=_duration(minutes),
        )
        return text, False, minutes
    text = _(
        "Overdue since %(when)s: %(who)s did not %(goal)s in time.", who=who, goal=goal, when=_when(due, now)
    )
    return text, True, int(left.total_seconds() // 60)


def ladder_note(complaint: Complaint, now: datetime) -> str | None:
    """Say when and why the case climbed to the rung that holds it now."""
    if complaint.escalated_at is None:
        return None
    who, when = _rung_label(complaint.rung), _when(complaint.escalated_at, now)
    if complaint.escalation_cause == "breach":
        return _("Overdue; passed to %(who)s at %(when)s.", who=who, when=when)
    if complaint.escalation_cause == "rejection":
        return _("You rejected the proposal; passed to %(who)s at %(when)s.", who=who, when=when)
    return _("Passed to %(who)s at %(when)s.", who=who, when=when)


def _identity_note(complaint: Complaint) -> str | None:
    """Ask for what Order 121 needs before the regulator's clock can start."""
    if not awaiting_identity(complaint):
        return None
    return _(
        "The market-supervision office needs your name and address to accept your "
        "complaint (Order 121). Please fill them in below; its clock starts when they arrive."
    )


def _duration(minutes: int) -> str:
    """Format a remaining time as minutes, hours or days."""
    if minutes < 60:
        return _("%(n)d min", n=minutes)
    if minutes < 48 * 60:
        return _("%(h)d h %(m)d min", h=minutes // 60, m=minutes % 60)
    return _("%(d)d days", d=minutes // (24 * 60))


def _when(due: datetime, now: datetime) -> str:
    """Say a due time briefly: the clock time today, else the date and time."""
    local_due, local_now = shanghai(due), shanghai(now)
    assert local_due is not None and local_now is not None
    if local_due.date() == local_now.date():
        return local_due.strftime("%H:%M")
    return local_due.strftime("%m-%d %H:%M")


def promised_steps(complaint: Complaint, policy: Policy, calendar: WorkCalendar, now: datetime) -> list[str]:
    """List what happens next and by when, from the promise in force when the case came in."""
    start = complaint.created_at
    if complaint.kind == "report":
        # Order 121: a report is verified within 15 working days.
        due = stage_deadline(Stage.VERIFY, start, policy, calendar).due
        local = shanghai(due)
        assert local is not None
        return [
            _(
                "The market-supervision office checks your report by %(when)s.",
                when=local.strftime("%Y-%m-%d"),
            )
        ]
    # The Changzhi double commitment: reply, on site (if the shopper is there), result.
    steps = [
        _(
            "The shop or the market's rights station replies to you by %(when)s.",
            when=_when(stage_deadline(Stage.RESPOND, start, policy, calendar).due, now),
        )
    ]
    if complaint.on_site:
        steps.append(
            _(
                "Staff come to you at the shop by %(when)s.",
                when=_when(stage_deadline(Stage.ONSITE, start, policy, calendar).due, now),
            )
        )
    steps.append(
        _(
            "You get a result by %(when)s.",
            when=_when(stage_deadline(Stage.FEEDBACK, start, policy, calendar).due, now),
        )
    )
    return steps


def rung_steps(complaint: Complaint, clocks: Iterable[Clock], now: datetime) -> list[str]:
    """List what the rung holding the case must do and by when, from its running clocks.

    After a climb the merchant's promise no longer applies: the station or the office
    runs its own clocks from the moment it took the case.
    """
    who = _rung_label(complaint.rung)
    shown = [
        c for c in clocks if c.rung == complaint.rung and c.stage not in NOT_HEADLINE and c.stopped_at is None
    ]
    steps = []
    for clock in sorted(shown, key=lambda c: c.due_at):
        if clock.paused_since is not None:
            steps.append(_("The clock is paused while testing or appraisal runs; that time does not count."))
            continue
        steps.append(
            _(
                "%(who)s must %(goal)s by %(when)s.",
                who=who,
                goal=_stage_goal(clock.stage),
                when=_when(clock.due_at, now),
            )
        )
    return steps
