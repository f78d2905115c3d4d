"""Bulk poster jobs: start one, watch its progress, download the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, current_app, jsonify, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from merchants.access import background, bulk_scope_or_404, current_staff, get_poster_job_or_404, roles
from merchants.blueprint import bp
from merchants.forms_posters import BulkPrintForm
from merchants.posters import BULK_ROLES, render_index, scope_choices
from portal.db import get_session, utcnow
from portal.models import PosterJob
from portal.poster_jobs import PosterJobError, create_job
from portal.poster_runner import start_in_background
from portal.posters import BulkScope


def failure_text(job: PosterJob) -> str:
    """Say in the user's language why a job failed; the stored error is "kind: detail"."""
    kind, _sep, detail = (job.error or "").partition(": ")
    reasons = {
        "font": _("The Chinese font for posters is not installed on the server (%(detail)s).", detail=detail),
        "storage": _(
            "The server could not write the file (%(detail)s). Tell the administrator "
            "that the poster folder (KUAISU_BULK_DIR) is full or not writable.",
            detail=detail,
        ),
        "interrupted": _("The job stopped before it finished, e.g. the server restarted. Start it again."),
    }
    return reasons.get(kind, _("An unexpected error stopped the job (%(detail)s).", detail=detail or kind))


def scope_text(job: PosterJob) -> str:
    """Describe what the job prints, from the choices the user had."""
    scope = BulkScope.from_json(job.scope)
    key = {"market": "market", "unit": "unit"}.get(scope.kind)
    wanted = f"{key}:{scope.ids[0]}" if key and scope.ids else "all"
    labels = {choice.value: choice.label for choice in scope_choices(current_staff())}
    return labels.get(wanted, _("Everything in my area"))


@bp.post("/posters/jobs")
@roles(*BULK_ROLES)
def start_job() -> Response | tuple[str, int]:
    """Queue a bulk run and start it in a separate, low-priority process."""
    session, user = get_session(), current_staff()
    form = BulkPrintForm()
    form.scope.choices = scope_choices(user)
    if not form.validate_on_submit():
        return render_index(form, status=400)
    scope = bulk_scope_or_404(session, user, form.scope.data or "")
    try:
        job = create_job(
            session,
            requester_id=user.id,
            scope=scope,
            layout=form.layout.data or "",
            fmt=form.fmt.data or "",
            now=utcnow(),
        )
    except PosterJobError:
        form.scope.errors = [_("There are no posters to print here.")]
        return render_index(form, status=400)
    session.commit()
    start_in_background(job.token, current_app.config)
    return redirect(url_for("office.poster_job", token=job.token), code=303)


@bp.get("/posters/jobs/<token>")
@roles(*BULK_ROLES)
def poster_job(token: str) -> str:
    """Show n of N while the job runs, then the download or the reason it failed."""
    job = get_poster_job_or_404(get_session(), current_staff(), token)
    return render_template(
        "office/posters_job.html",
        job=job,
        scope=scope_text(job),
        failure=failure_text(job) if job.status == "failed" else None,
    )


@bp.get("/posters/jobs/<token>.json")
@roles(*BULK_ROLES)
@background
def poster_job_json(token: str) -> Response:
    """Report the job's progress to a polling script."""
    job = get_poster_job_or_404(get_session(), current_staff(), token)
    body: dict[str, Any] = {"status": job.status, "done": job.done, "total": job.total}
    if job.status == "done":
        body["download"] = url_for("office.poster_job_download", token=job.token)
    if job.status == "failed":
        body["error"] = failure_text(job)
    return jsonify(body)


@bp.get("/posters/jobs/<token>/download")
@roles(*BULK_ROLES)
def poster_job_download(token: str) -> Response:
    """Send the finished PDF or ZIP to the requester or someone whose scope covers it."""
    job = get_poster_job_or_404(get_session(), current_staff(), token)
    if job.status != "done" or not job.result_path:
        abort(404)
    path = Path(current_app.config["BULK_DIR"]) / Path(job.result_path).name
    if not path.is_file():
        abort(404)
    stamp = (job.finished_at or job.created_at).strftime("%Y%m%d")
    mimetype = "application/pdf" if job.fmt == "pdf" else "application/zip"
    return send_file(
        path,
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"posters-{job.layout}-{stamp}-{job.total}.{job.fmt}",
    )
