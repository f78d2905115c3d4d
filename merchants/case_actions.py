"""The actions on a case, one route each: every one is one event on the timeline."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from merchants.access import get_complaint_or_404, roles
from merchants.blueprint import bp
from merchants.cases import Act, Page, perform
from merchants.forms_cases import (
    ArrivalForm,
    CallbackForm,
    HideForm,
    LinkForm,
    NoteForm,
    OutcomeForm,
    ProposeForm,
    ReplyForm,
    UnlinkForm,
    VersionForm,
)
from portal.closing import close, hide, propose, record_callback, record_outcome
from portal.duplicates import NotLinkedError, link_duplicate, unlink_duplicate
from portal.forms import parse_amount
from portal.lifecycle import ACTION_ROLES, add_note, record_arrival, reply, take
from portal.signals import SignalPolicy


@bp.post("/complaints/<case_number>/take")
@roles(*ACTION_ROLES["take"])
def take_case(case_number: str) -> Page:
    """Take first responsibility (首接)."""
    return perform(
        case_number,
        "take",
        VersionForm,
        lambda a: take(a.session, a.complaint, a.user, **a.stamp),
        _("You took the case; you are responsible for it now."),
    )


@bp.post("/complaints/<case_number>/reply")
@roles(*ACTION_ROLES["reply"])
def reply_case(case_number: str) -> Page:
    """Reply to the shopper, publicly."""
    return perform(
        case_number,
        "reply",
        ReplyForm,
        lambda a: reply(a.session, a.complaint, a.user, a.form.reply_text(), **a.stamp),
        _("Reply sent; the shopper sees it on the tracking page."),
    )


@bp.post("/complaints/<case_number>/note")
@roles(*ACTION_ROLES["note"])
def note_case(case_number: str) -> Page:
    """Add an internal note."""
    return perform(
        case_number,
        "note",
        NoteForm,
        lambda a: add_note(a.session, a.complaint, a.user, a.form.text.data, **a.stamp),
        _("Note added."),
    )


@bp.post("/complaints/<case_number>/arrive")
@roles(*ACTION_ROLES["arrive"])
def arrive_case(case_number: str) -> Page:
    """Record arrival on site."""
    return perform(
        case_number,
        "arrive",
        ArrivalForm,
        lambda a: record_arrival(a.session, a.complaint, a.user, at=a.form.arrival(a.now), **a.stamp),
        _("Arrival recorded."),
    )


@bp.post("/complaints/<case_number>/propose")
@roles(*ACTION_ROLES["propose"])
def propose_case(case_number: str) -> Page:
    """Propose a resolution to the shopper."""
    return perform(
        case_number,
        "propose",
        ProposeForm,
        lambda a: propose(
            a.session, a.complaint, a.user, a.form.offer.data, parse_amount(a.form.amount.data), **a.stamp
        ),
        _("Resolution proposed; the shopper can accept or reject it."),
    )


@bp.post("/complaints/<case_number>/outcome")
@roles(*ACTION_ROLES["outcome"])
def outcome_case(case_number: str) -> Page:
    """Record the outcome and the amount recovered."""
    return perform(
        case_number,
        "outcome",
        OutcomeForm,
        lambda a: record_outcome(
            a.session,
            a.complaint,
            a.user,
            a.form.outcome.data,
            parse_amount(a.form.recovered.data),
            explanation=a.form.explanation.data or "",
            **a.stamp,
        ),
        _("Outcome recorded."),
    )


@bp.post("/complaints/<case_number>/close")
@roles(*ACTION_ROLES["close"])
def close_case(case_number: str) -> Page:
    """Close the case (green)."""
    return perform(
        case_number,
        "close",
        VersionForm,
        lambda a: close(a.session, a.complaint, a.user, **a.stamp),
        _("Case closed."),
    )


@bp.post("/complaints/<case_number>/hide")
@roles(*ACTION_ROLES["hide"])
def hide_case(case_number: str) -> Page:
    """Hide the case with a reason; it is never deleted."""
    return perform(
        case_number,
        "hide",
        HideForm,
        lambda a: hide(a.session, a.complaint, a.user, a.form.reason.data, **a.stamp),
        _("Case hidden. It stays in the statistics."),
    )


@bp.post("/complaints/<case_number>/callback")
@roles(*ACTION_ROLES["callback"])
def callback_case(case_number: str) -> Page:
    """Record the call-back (回访) result."""
    return perform(
        case_number,
        "callback",
        CallbackForm,
        lambda a: record_callback(
            a.session,
            a.complaint,
            a.user,
            reached=a.form.reached.data == "yes",
            satisfied={"yes": True, "no": False}.get(a.form.satisfied.data or ""),
            note=a.form.note.data or "",
            **a.stamp,
        ),
        _("Call-back recorded."),
    )


def _link(act: Act) -> object:
    """Link the posted case with this one; a case outside the user's scope is a 404."""
    other = get_complaint_or_404(act.session, act.user, act.form.other.data)
    return link_duplicate(
        act.session,
        act.complaint,
        other,
        act.user,
        other_version=act.form.other_version.data,
        policy=SignalPolicy.from_config(current_app.config),
        **act.stamp,
    )


@bp.post("/complaints/<case_number>/link")
@roles(*ACTION_ROLES["link"])
def link_case(case_number: str) -> Page:
    """Link a possible duplicate as one case: the later one is closed as merged into the earlier."""
    return perform(
        case_number,
        "link",
        LinkForm,
        _link,
        _("Linked as one case. The later one is closed as merged; the shopper is told which case continues."),
    )


def _unlink(act: Act) -> object:
    """Undo the case's link; the case it was merged into must be in the user's scope too."""
    if act.complaint.linked_to is None:
        raise NotLinkedError(act.complaint.case_number)
    primary = get_complaint_or_404(act.session, act.user, act.complaint.linked_to.case_number)
    return unlink_duplicate(
        act.session,
        act.complaint,
        primary,
        act.user,
        act.form.reason.data,
        other_version=act.form.other_version.data,
        **act.stamp,
    )


@bp.post("/complaints/<case_number>/unlink")
@roles(*ACTION_ROLES["unlink"])
def unlink_case(case_number: str) -> Page:
    """Undo a link made by mistake: the merged case reopens on its own, its clocks start again."""
    return perform(
        case_number,
        "unlink",
        UnlinkForm,
        _unlink,
        _("Link undone. The case is open again on its own, with fresh time limits; the shopper is told."),
    )
