"""Exports of figures and case lists as CSV or XLSX; every export is written to the audit log."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from merchants.access import ALL_ROLES, can_reveal_phone, current_staff, roles
from merchants.blueprint import bp
from merchants.insight_scope import read_filters, scope_clause, scoped_facts, scoped_where
from portal.audit_log import record
from portal.dashboard import build_dashboard
from portal.db import begin_write, get_session, new_session, utcnow
from portal.export_files import csv_bytes, xlsx_bytes
from portal.export_tables import ExportTooLargeError, case_sheet, figure_sheets
from portal.metric_sets import SET_LABELS
from portal.metrics_query import metric_context

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.post("/insight/export")
@roles(*ALL_ROLES)
def insight_export() -> Response:
    """Build the file from a read-only session, record the export, then send the file."""
    session, user, now = get_session(), current_staff(), utcnow()
    fmt, what, metric = request.form.get("fmt", ""), request.form.get("what", ""), request.form.get("metric")
    if (
        fmt not in MIMETYPES
        or what not in ("figures", "cases")
        or (what == "cases" and metric not in SET_LABELS)
    ):
        abort(400)
    filters, _understood = read_filters(request.form.to_dict(), now)
    # Merchants never get the shopper's data in full; others only when they ask (and it is logged).
    personal = what == "cases" and request.form.get("personal") == "1" and can_reveal_phone(user)
    # Release SQLite's write lock while a large file is built; the audit row takes it back.
    session.commit()
    with new_session() as reader:
        try:
            if what == "figures":
                scope = scope_clause(reader, user, filters)
                facts = scoped_facts(reader, user, filters)
                sheets = figure_sheets(build_dashboard(reader, scope, filters, now, facts=facts))
            else:
                assert metric is not None
                sheets = [
                    case_sheet(
                        reader,
                        scoped_where(reader, user, filters),
                        metric_context(reader, now),
                        metric,
                        personal,
                    )
                ]
            body = csv_bytes(sheets) if fmt == "csv" else xlsx_bytes(sheets)
        except ExportTooLargeError:
            flash(_("That list is too long for one file. Narrow the period or the filters."), "error")
            args: dict[str, Any] = {**filters.as_args(), "metric": metric or ""}
            return redirect(url_for("office.insight_cases", **args))
    begin_write(session)
    record(
        session,
        "export",
        actor=user,
        now=now,
        data={
            "what": what,
            "format": fmt,
            "metric": metric,
            "filters": filters.as_args(),
            "personal_data": personal,
            "rows": sum(s.count or 0 for s in sheets),
            "bytes": len(body),
        },
    )
    session.commit()
    name = f"kuaisu-{what}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{fmt}"
    return Response(
        body,
        mimetype=MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
