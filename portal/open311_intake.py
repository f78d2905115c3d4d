"""Open311 POST requests: the shopper's form, filled by an integrator, through the same service.

The request's fields are mapped onto portal.forms.ComplaintForm and validated by it, so the
API takes exactly what the poster form takes; portal.intake.submit stores the case. The
target shop is named by its poster code: `address_id`, or `attribute[poster_code]`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from collections.abc import Mapping
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from portal.categories import CATEGORIES
from portal.forms import ComplaintForm
from portal.intake import IdempotencyConflictError, Receipt, submit
from portal.models import ApiKey
from portal.open311 import Open311Error
from portal.photo_intake import photo_store
from portal.public_support import submission_from
from portal.signals import SignalPolicy
from portal.targets import find_poster, target_for

CHANNEL = "open311"
_TRUE = frozenset({"true", "1", "yes", "y", "on"})


def poster_code_of(fields: Mapping[str, str]) -> str:
    """Return the poster code the integrator named (address_id wins over the attribute)."""
    return (fields.get("address_id") or fields.get("attribute[poster_code]") or "").strip().upper()


def _name(first: str, last: str) -> str:
    """Join the spec's name parts; a Chinese name is family name first, with no space."""
    first, last = first.strip(), last.strip()
    if any(unicodedata.east_asian_width(ch) == "W" for ch in first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)


def idempotency_key(key: ApiKey, presented: str) -> str:
    """Scope the integrator's key to its API key, so two integrators never share a case."""
    digest = hashlib.sha256(f"{key.id}:{presented}".encode()).hexdigest()[:40]
    return f"o311-{digest}"


def form_data(fields: Mapping[str, str], key: ApiKey, presented_key: str) -> MultiDict[str, str]:
    """Map the spec's fields and attributes onto the poster form's fields."""
    data: MultiDict[str, str] = MultiDict(
        {
            "kind": fields.get("attribute[kind]", "complaint") or "complaint",
            "category": fields.get("service_code", ""),
            "description": fields.get("description", ""),
            "amount": fields.get("attribute[amount]", ""),
            "wish": fields.get("attribute[wish]", ""),
            "phone": fields.get("phone", ""),
            "name": _name(fields.get("first_name", ""), fields.get("last_name", "")),
        }
    )
    for attribute, field in (("attribute[on_site]", "on_site"), ("attribute[consent]", "consent")):
        if fields.get(attribute, "").strip().lower() in _TRUE:
            data[field] = "y"
    if presented_key:
        data["idem"] = idempotency_key(key, presented_key)
    return data


def _first_error(form: ComplaintForm) -> str:
    """Describe the first invalid field as `field: message`, naming the spec's field."""
    spec_names = {
        "category": "service_code",
        "name": "first_name",
        "kind": "attribute[kind]",
        "amount": "attribute[amount]",
        "wish": "attribute[wish]",
        "consent": "attribute[consent]",
        "on_site": "attribute[on_site]",
    }
    for name, errors in form.errors.items():
        if errors:
            return f"{spec_names.get(name, name)}: {errors[0]}"
    return "invalid request"


def create_request(
    session: Session, fields: Mapping[str, str], key: ApiKey, presented_key: str, *, now: datetime
) -> Receipt:
    """Validate like the form, resolve the poster, store the case (a retried key returns it)."""
    if fields.get("service_code", "") not in CATEGORIES:
        raise Open311Error(400, f"service_code {fields.get('service_code', '')!r} not found")
    form = ComplaintForm(formdata=form_data(fields, key, presented_key), meta={"csrf": False})
    if not form.validate():
        raise Open311Error(400, _first_error(form))
    view, _revoked = find_poster(session, poster_code_of(fields))
    if view is None:
        raise Open311Error(400, "address_id: unknown or revoked poster code")
    shop = fields.get("attribute[shop]", "")
    target, _merchant = target_for(session, view, int(shop) if shop.isdigit() else None)
    submission = dataclasses.replace(submission_from(form), channel=CHANNEL)
    config = current_app.config
    try:
        return submit(
            session,
            submission,
            target,
            photos=[],
            store=photo_store(),
            now=now,
            secret=config["SECRET_KEY"],
            salt=config["PHONE_SALT"],
            signals=SignalPolicy.from_config(config),
        )
    except IdempotencyConflictError as exc:
        raise Open311Error(409, "idempotency key already used for a different request") from exc
