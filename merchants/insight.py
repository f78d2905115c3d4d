"""The dashboard (/office/insight) and the cases behind each of its figures."""

from __future__ import annotations

from flask import abort, flash, render_template, request
from flask_babel import gettext as _

from merchants.access import ALL_ROLES, current_staff, roles
from merchants.blueprint import bp
from merchants.insight_scope import choices, read_filters, scope_clause, scoped_facts, scoped_where
from portal.categories import CATEGORIES, category_label
from portal.charts import dashboard_charts
from portal.closing import outcome_label
from portal.dashboard import build_dashboard
from portal.db import get_session, utcnow
from portal.metric_cases import case_page
from portal.metric_sets import SET_LABELS
from portal.metrics import RATES
from portal.metrics_query import metric_context

# Merchants see their own shop's figures; stations their market; regulators their subtree.
INSIGHT_ROLES = ALL_ROLES


@bp.get("/insight")
@roles(*INSIGHT_ROLES)
def insight() -> tuple[str, int]:
    """Show the figures, rates and charts for the period and filters in the query string."""
    session, user, now = get_session(), current_staff(), utcnow()
    filters, understood = read_filters(request.args.to_dict(), now)
    if not understood:
        flash(_("Some filters could not be read; showing the last 30 days."), "error")
    scope = scope_clause(session, user, filters)
    board = build_dashboard(session, scope, filters, now, facts=scoped_facts(session, user, filters))
    page = render_template(
        "office/insight.html",
        board=board,
        filters=filters,
        charts=dashboard_charts(board),
        choices=choices(session, user, filters.market),
        rates=RATES,
        labels=SET_LABELS,
        user=user,
        categories=[(code, category_label(code)) for code in CATEGORIES],
        now=now,
    )
    return page, 200


@bp.get("/insight/cases")
@roles(*INSIGHT_ROLES)
def insight_cases() -> tuple[str, int]:
    """List the cases behind one figure, with the same filters, newest first."""
    session, user, now = get_session(), current_staff(), utcnow()
    metric = request.args.get("metric", "received")
    if metric not in SET_LABELS:
        abort(404)
    filters, _understood = read_filters(request.args.to_dict(), now)
    before = request.args.get("before", "")
    page = case_page(
        session,
        scoped_where(session, user, filters),
        metric_context(session, now),
        metric,
        int(before) if before.isdigit() else None,
    )
    html = render_template(
        "office/insight_cases.html",
        page=page,
        metric=metric,
        label=SET_LABELS[metric],
        filters=filters,
        user=user,
        category_label=category_label,
        outcome_label=outcome_label,
    )
    return html, 200
