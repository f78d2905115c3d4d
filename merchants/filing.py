"""The 12315-ready package of a complaint at the regulator: a printable page and JSON."""

from __future__ import annotations

import json

from flask import abort, current_app, render_template
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms.validators import AnyOf

from merchants.access import current_staff, get_complaint_or_404, roles
from merchants.blueprint import bp
from portal.db import get_session, utcnow
from portal.filing import filing_package, package_ready, record_package_view

# The package holds the full phone, name and address: the roles that may reveal a phone.
FILING_ROLES = ("station", "regulator", "admin")


class PackageForm(FlaskForm):
    """Which form of the package to produce."""

    format = HiddenField(validators=[AnyOf(("html", "json"))])


@bp.get("/complaints/<case_number>/filing")
@roles(*FILING_ROLES)
def filing_intro(case_number: str) -> str:
    """Explain the package and offer it; showing it is a recorded act (PIPL)."""
    session = get_session()
    complaint = get_complaint_or_404(session, current_staff(), case_number)
    if not package_ready(complaint):
        abort(404)
    return render_template("office/filing_intro.html", complaint=complaint, form=PackageForm())


@bp.post("/complaints/<case_number>/filing")
@roles(*FILING_ROLES)
def filing_package_view(case_number: str) -> Response:
    """Record who asked, then answer the POST with the printable page or the JSON file."""
    session, user = get_session(), current_staff()
    complaint = get_complaint_or_404(session, user, case_number)
    form = PackageForm()
    if not package_ready(complaint) or not form.validate_on_submit():
        abort(404 if not package_ready(complaint) else 400)
    fmt = form.format.data or "html"
    record_package_view(session, complaint, user, fmt, now=utcnow(), salt=current_app.config["PHONE_SALT"])
    package = filing_package(session, complaint)
    session.commit()
    if fmt == "json":
        body = json.dumps(package, ensure_ascii=False, indent=2)
        return Response(
            body,
            mimetype="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{complaint.case_number}-12315.json"',
                "Cache-Control": "private, no-store",
            },
        )
    page = render_template("office/filing.html", complaint=complaint, package=package)
    return Response(page, mimetype="text/html", headers={"Cache-Control": "private, no-store"})
