"""The printable monthly report (消费维权分析报告) of a unit or a market."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from merchants.access import complaint_scope, current_staff, roles, unit_subtree
from merchants.blueprint import bp
from merchants.insight_scope import today
from portal.charts import dashboard_charts
from portal.db import get_session, utcnow
from portal.metrics import RATES
from portal.models import Complaint, Market, RegulatorUnit, User
from portal.monthly_report import MonthError, build_report, month_period


def _report_unit(session: Session, user: User) -> RegulatorUnit:
    """Return the unit asked for in ?unit=, if the user's subtree holds it; else the user's own."""
    asked = request.args.get("unit", "")
    if user.role == "admin":
        unit_id = (
            int(asked)
            if asked.isdigit()
            else session.scalar(
                select(RegulatorUnit.id).where(RegulatorUnit.parent_id.is_(None)).order_by(RegulatorUnit.id)
            )
        )
    else:
        assert user.unit_id is not None
        unit_id = int(asked) if asked.isdigit() else user.unit_id
        if unit_id not in unit_subtree(session, user.unit_id):
            abort(404)
    unit = session.get(RegulatorUnit, unit_id) if unit_id is not None else None
    if unit is None:
        abort(404)
    return unit


def _unit_lines(session: Session, unit: RegulatorUnit) -> list[tuple[int, str, list[int]]]:
    """Return the report's unit lines: the unit itself (own cases) and each child's subtree."""
    children = session.scalars(
        select(RegulatorUnit).where(RegulatorUnit.parent_id == unit.id).order_by(RegulatorUnit.id)
    ).all()
    lines = [(unit.id, _("%(name)s (itself)", name=unit.name), [unit.id])]
    return lines + [(child.id, child.name, unit_subtree(session, child.id)) for child in children]


@bp.get("/reports/monthly")
@roles("station", "regulator", "admin")
def monthly_report() -> tuple[str, int]:
    """Show the month's report, laid out for printing on A4."""
    session, user, now = get_session(), current_staff(), utcnow()
    try:
        month, filters = month_period(request.args.get("month"), today(now))
    except MonthError:
        abort(404)
    if user.role == "station":
        market = session.get(Market, user.market_id)
        title, scope, lines = (market.name if market else ""), complaint_scope(session, user), []
    else:
        unit = _report_unit(session, user)
        scope = and_(complaint_scope(session, user), Complaint.unit_id.in_(unit_subtree(session, unit.id)))
        title, lines = unit.name, _unit_lines(session, unit)
    report = build_report(session, scope, title, month, filters, now, lines)
    page = render_template(
        "office/report_monthly.html",
        report=report,
        now=now,
        rates=RATES,
        charts=dashboard_charts(report.board),
    )
    return page, 200
