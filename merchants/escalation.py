"""The ladder page of a case: its clocks and cards, escalation, returns, the regulator's steps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from merchants.access import ALL_ROLES, current_staff, declared_roles, get_complaint_or_404, roles
from merchants.blueprint import bp
from merchants.forms_cases import VersionForm, distinct_ids
from merchants.forms_ladder import EscalateForm, PauseForm, ReasonChannelForm
from portal import regulator, returns
from portal.db import get_session, utcnow
from portal.escalation import LadderTopError, ReasonRequiredError, escalate
from portal.lifecycle import (
    ActionNotAllowedError,
    CaseClosedError,
    LifecycleError,
    StaleCaseError,
)
from portal.models import Complaint, StageCard, StageClock, User
from portal.status import case_status

Page = str | tuple[str, int] | Response
Step = Callable[[Session, Complaint, User, Any, Any, str], object]
STATION = ("station", "admin")
REGULATOR = ("regulator", "admin")
RETURNERS = ("station", "regulator", "admin")
# name → (form, service); every service takes (session, case, user, form, now, salt). The
# roles are declared on each route below, and the page offers a step only to those roles.
ACTIONS: dict[str, tuple[type[FlaskForm], Step]] = {
    "escalate": (
        EscalateForm,
        lambda s, c, u, f, n, salt: escalate(s, c, reason=f.reason.data or "", actor=u, now=n, salt=salt),
    ),
    "return": (
        ReasonChannelForm,
        lambda s, c, u, f, n, salt: returns.return_case(
            s, c, u, reason=f.reason.data or "", channel=f.channel.data or "", now=n, salt=salt
        ),
    ),
    "told": (VersionForm, lambda s, c, u, f, n, salt: returns.record_return_told(s, c, u, now=n, salt=salt)),
    "accept": (VersionForm, lambda s, c, u, f, n, salt: regulator.accept(s, c, u, now=n, salt=salt)),
    "refuse": (
        ReasonChannelForm,
        lambda s, c, u, f, n, salt: regulator.refuse(
            s, c, u, reason=f.reason.data or "", channel=f.channel.data or "", now=n, salt=salt
        ),
    ),
    "pause": (
        PauseForm,
        lambda s, c, u, f, n, salt: regulator.pause_mediation(
            s, c, u, cause=f.cause.data or "", now=n, salt=salt
        ),
    ),
    "resume": (
        VersionForm,
        lambda s, c, u, f, n, salt: regulator.resume_mediation(s, c, u, now=n, salt=salt),
    ),
    "extend": (VersionForm, lambda s, c, u, f, n, salt: regulator.extend_verify(s, c, u, now=n, salt=salt)),
    "end": (
        VersionForm,
        lambda s, c, u, f, n, salt: regulator.end_mediation(s, c, actor=u, now=n, salt=salt),
    ),
    "notified": (
        VersionForm,
        lambda s, c, u, f, n, salt: regulator.notify_termination(s, c, u, now=n, salt=salt),
    ),
}


def _refusal(exc: LifecycleError) -> tuple[str, int]:
    """Say in plain words why a ladder step was refused, with its HTTP status."""
    known: dict[type[LifecycleError], tuple[str, int]] = {
        StaleCaseError: (_("Someone else changed this case. Check it and try again."), 409),
        ActionNotAllowedError: (_("Your role may not do this."), 403),
        CaseClosedError: (_("The case is closed."), 409),
        LadderTopError: (_("The case is already with the regulator; there is no rung above."), 409),
        ReasonRequiredError: (_("Write the reason."), 400),
        returns.ReturnReasonError: (_("Write a real reason and pick where the shopper can turn."), 400),
        regulator.IdentityMissingError: (
            _(
                "The complainant's name, phone or address is missing; "
                "the tracking page asks the shopper for them."
            ),
            409,
        ),
        regulator.NoSuchClockError: (_("The case does not run this clock now."), 409),
    }
    return known.get(type(exc), (_("This step does not fit the case now."), 409))


def render_ladder(
    session: Session,
    complaint: Complaint,
    user: User,
    *,
    error: str | None = None,
    status: int = 200,
    failed: Mapping[str, FlaskForm] | None = None,
) -> tuple[str, int]:
    """Render the clocks, the cards issued, and the steps the user's role may take."""
    forms = {name: spec[0]() for name, spec in ACTIONS.items()}
    for form in forms.values():
        form.version.data = complaint.version  # type: ignore[attr-defined]
    forms.update(failed or {})
    distinct_ids(forms)
    clocks = session.scalars(
        select(StageClock).where(StageClock.complaint_id == complaint.id).order_by(StageClock.id)
    ).all()
    cards = session.scalars(
        select(StageCard)
        .where(StageCard.complaint_id == complaint.id)
        .order_by(StageCard.due_at, StageCard.id)
    ).all()
    now = utcnow()
    page = render_template(
        "office/ladder.html",
        complaint=complaint,
        user=user,
        forms=forms,
        error=error,
        now=now,
        status=case_status(complaint, now),
        clocks=clocks,
        cards=cards,
        may=lambda name: (
            user.role in (declared_roles(current_app.view_functions[f"office.ladder_{name}"]) or ())
        ),
        running={c.stage: c for c in clocks if c.stopped_at is None},
    )
    return page, status


@bp.get("/complaints/<case_number>/ladder")
@roles(*ALL_ROLES)
def ladder(case_number: str) -> Page:
    """Show a case's clocks, cards and ladder steps to a user whose scope holds it."""
    session, user = get_session(), current_staff()
    return render_ladder(session, get_complaint_or_404(session, user, case_number), user)


def _perform(case_number: str, name: str) -> Page:
    """Validate the step's form, check the version, run its service, commit; refusals re-render."""
    form_class, step = ACTIONS[name]
    session, user = get_session(), current_staff()
    case = get_complaint_or_404(session, user, case_number)
    form = form_class()
    if not form.validate_on_submit():
        return render_ladder(
            session, case, user, error=_("Please check the form."), status=400, failed={name: form}
        )
    try:
        if form.version.data != case.version:  # type: ignore[attr-defined]
            raise StaleCaseError(case.case_number)
        step(session, case, user, form, utcnow(), current_app.config["PHONE_SALT"])
    except LifecycleError as exc:
        session.rollback()
        message, status = _refusal(exc)
        case = get_complaint_or_404(session, user, case_number)
        form.version.data = case.version  # type: ignore[attr-defined]
        return render_ladder(session, case, user, error=message, status=status, failed={name: form})
    session.commit()
    flash(_("Done: the step is on the case's timeline."), "ok")
    return redirect(url_for("office.ladder", case_number=case_number), code=303)


@bp.post("/complaints/<case_number>/escalate")
@roles(*STATION)
def ladder_escalate(case_number: str) -> Page:
    """Pass the case one rung up by hand, with a reason (station staff)."""
    return _perform(case_number, "escalate")


@bp.post("/complaints/<case_number>/return")
@roles(*RETURNERS)
def ladder_return(case_number: str) -> Page:
    """Return the case as outside this unit's remit, with a reason and a channel."""
    return _perform(case_number, "return")


@bp.post("/complaints/<case_number>/return-told")
@roles(*RETURNERS)
def ladder_told(case_number: str) -> Page:
    """Record that the shopper heard of the return; the case closes."""
    return _perform(case_number, "told")


@bp.post("/complaints/<case_number>/accept")
@roles(*REGULATOR)
def ladder_accept(case_number: str) -> Page:
    """Accept the complaint (Order 121); mediation's 60 days start."""
    return _perform(case_number, "accept")


@bp.post("/complaints/<case_number>/refuse")
@roles(*REGULATOR)
def ladder_refuse(case_number: str) -> Page:
    """Refuse the complaint, with the reason and the other routes open to the shopper."""
    return _perform(case_number, "refuse")


@bp.post("/complaints/<case_number>/pause")
@roles(*REGULATOR)
def ladder_pause(case_number: str) -> Page:
    """Pause mediation for testing or appraisal."""
    return _perform(case_number, "pause")


@bp.post("/complaints/<case_number>/resume")
@roles(*REGULATOR)
def ladder_resume(case_number: str) -> Page:
    """Resume mediation after testing or appraisal."""
    return _perform(case_number, "resume")


@bp.post("/complaints/<case_number>/extend")
@roles(*REGULATOR)
def ladder_extend(case_number: str) -> Page:
    """Extend a report's verification once by 15 working days."""
    return _perform(case_number, "extend")


@bp.post("/complaints/<case_number>/end-mediation")
@roles(*REGULATOR)
def ladder_end(case_number: str) -> Page:
    """End mediation without agreement; the 7-working-day notice clock starts."""
    return _perform(case_number, "end")


@bp.post("/complaints/<case_number>/termination-notified")
@roles(*REGULATOR)
def ladder_notified(case_number: str) -> Page:
    """Record that both sides were told mediation ended; the case closes."""
    return _perform(case_number, "notified")
