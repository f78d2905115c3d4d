"""Open311 GeoReport v2 at /open311/v2/: public reads, keyed writes, the spec's errors.

CSRF does not apply (no browser session: POST carries an integrator's api_key); every route
is rate-limited per address, and creating a case also per phone and poster like the form.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from portal.apikeys import find_key
from portal.db import get_session, utcnow
from portal.errors import RETRY_AFTER_SECONDS
from portal.open311 import Open311Error, find_requests, service_definition, services
from portal.open311_format import FORMATS, error, render, render_object
from portal.open311_intake import create_request, poster_code_of
from portal.phones import PhoneError, normalise_mobile, phone_digest
from portal.security import csrf, limiter, retry_after

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)


def _api_limit() -> str:
    return str(current_app.config.get("RATELIMIT_OPEN311", "300 per minute"))


def _phone_limit() -> str:
    return str(current_app.config["RATELIMIT_SUBMIT_PHONE"])


def _phone_poster_key() -> str:
    """Key the per-phone limit like the poster form: poster code and a salted phone hash."""
    code = poster_code_of(request.form)
    try:
        phone = normalise_mobile(request.form.get("phone", ""))
    except PhoneError:
        return f"open311:{code}:{request.remote_addr}"
    return f"open311:{code}:{phone_digest(phone, current_app.config['PHONE_SALT'])[:24]}"


limiter.limit(_api_limit)(bp)


def _format(fmt: str) -> str:
    """Refuse a format other than json or xml."""
    if fmt not in FORMATS:
        raise Open311Error(404, f"format {fmt} not supported: use json or xml")
    return fmt


@bp.errorhandler(Open311Error)
def _refused(exc: Open311Error) -> Response:
    return error(_requested_format(), exc.code, exc.description)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    response = error(_requested_format(), exc.code or 500, exc.description or exc.name)
    if exc.code == 429:
        response.headers["Retry-After"] = retry_after(RETRY_AFTER_SECONDS)
    return response


def _requested_format() -> str:
    """Guess the format of the failed request from its path."""
    return "xml" if request.path.endswith(".xml") else "json"


@bp.get("/services.<fmt>")
def service_list(fmt: str) -> Response:
    """List the categories as services."""
    return render(_format(fmt), "services", "service", services())


@bp.get("/services/<code>.<fmt>")
def service_detail(code: str, fmt: str) -> Response:
    """Describe the attributes of one service."""
    return render_object(_format(fmt), "service_definition", service_definition(code))


def _when(name: str) -> datetime | None:
    """Parse a w3 date-time filter such as 2026-11-01T00:00:00Z."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name}: not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name}: give a time zone, e.g. Z or +08:00")
    return moment


def _list_arg(name: str) -> list[str]:
    return [part.strip() for part in request.args.get(name, "").split(",") if part.strip()]


@bp.get("/requests.<fmt>")
def request_list(fmt: str) -> Response:
    """List public complaints by the spec's filters (newest first, at most 1000)."""
    fmt = _format(fmt)
    statuses = _list_arg("status")
    if set(statuses) - {"open", "closed"}:
        raise Open311Error(400, "status: use open or closed")
    found = find_requests(
        get_session(),
        ids=_list_arg("service_request_id"),
        service_codes=_list_arg("service_code"),
        start=_when("start_date"),
        end=_when("end_date"),
        statuses=statuses,
        now=utcnow(),
    )
    return render(fmt, "service_requests", "request", found)


@bp.get("/requests/<request_id>.<fmt>")
def request_detail(request_id: str, fmt: str) -> Response:
    """Return one public complaint as a one-element list, as the spec does."""
    fmt = _format(fmt)
    found = find_requests(get_session(), ids=[request_id], now=utcnow())
    if not found:
        raise Open311Error(404, f"service_request_id {request_id} not found")
    return render(fmt, "service_requests", "request", found)


@bp.post("/requests.<fmt>")
@limiter.limit(_phone_limit, key_func=_phone_poster_key, deduct_when=lambda r: r.status_code == 201)
def request_create(fmt: str) -> Response:
    """Create a complaint through the shopper's form service, with the integrator's key."""
    fmt = _format(fmt)
    session = get_session()
    key = find_key(session, request.form.get("api_key", ""))
    if key is None:
        raise Open311Error(403, "api_key missing, unknown or revoked")
    presented = (request.headers.get("Idempotency-Key") or request.form.get("idempotency_key") or "").strip()[
        :200
    ]
    receipt = create_request(session, request.form, key, presented, now=utcnow())
    session.commit()
    notice = "Track it at /track with the case number and the last 4 digits of the phone."
    body = [
        {"service_request_id": receipt.complaint.case_number, "service_notice": notice, "account_id": None}
    ]
    return render(fmt, "service_requests", "request", body, status=201 if receipt.created else 200)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(rest: str) -> Response:
    """Answer unknown Open311 paths in the spec's format, not with an HTML page."""
    return error(_requested_format(), 404, "not found: see /open311/v2/services.json")
