"""Open311 GeoReport v2 reads: categories as services, complaints as public requests.

Nothing personal leaves through this door: no phone, no name, no description text, no event
body, no photo. Reports (举报) are never listed (Order 121 keeps the reporter confidential),
nor are hidden cases. A request's id is its case number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.categories import CATEGORIES, category_label
from portal.closing import outcome_label
from portal.forms import WISHES
from portal.models import Complaint, Event, Market, Merchant, RegulatorUnit
from portal.open311_format import iso

MAX_RESULTS = 1000
DEFAULT_DAYS = 90
STATUS_NOTES: dict[str, Any] = {
    "submitted": _l("Received"),
    "taken": _l("Staff took responsibility for the case"),
    "reply": _l("Staff replied to the shopper"),
    "arrived": _l("Staff arrived at the shop"),
    "proposed": _l("A resolution was proposed"),
    "accepted": _l("The shopper accepted the resolution"),
    "rejected": _l("The shopper rejected the resolution"),
    "outcome": _l("Outcome recorded"),
    "closed": _l("Closed"),
    "rated": _l("The shopper rated the handling"),
    "escalated": _l("Escalated to the next level"),
    "returned": _l("Returned as outside the remit"),
    "merged": _l("Closed as a duplicate; the matter continues in another case"),
    "merged_in": _l("A duplicate case about the same matter was merged into this one"),
    "unmerged": _l("Not the same matter as the case it was merged into: open again on its own"),
    "unmerged_out": _l("A case merged into this one was separated again: not the same matter"),
}


class Open311Error(Exception):
    """A request the API refuses, with the HTTP code the spec's error format carries."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def services() -> list[dict[str, Any]]:
    """Return every category as a service; each takes attributes (see its definition)."""
    return [
        {
            "service_code": code,
            "service_name": category_label(code),
            "description": _("Consumer complaint: %(category)s", category=category_label(code)),
            "metadata": True,
            "type": "realtime",
            "keywords": zh,
            "group": _("Consumer rights"),
        }
        for code, (zh, _label) in CATEGORIES.items()
    ]


def _choice(
    code: str, order: int, description: str, values: Sequence[tuple[str, str]], required: bool = False
) -> dict[str, Any]:
    """Describe a single-value-list attribute."""
    return {
        "variable": True,
        "code": code,
        "datatype": "singlevaluelist",
        "required": required,
        "datatype_description": None,
        "order": order,
        "description": description,
        "values": [{"key": key, "name": name} for key, name in values],
    }


def _text(
    code: str, order: int, description: str, required: bool = False, datatype: str = "string"
) -> dict[str, Any]:
    """Describe a free attribute."""
    return {
        "variable": True,
        "code": code,
        "datatype": datatype,
        "required": required,
        "datatype_description": None,
        "order": order,
        "description": description,
        "values": [],
    }


def service_definition(code: str) -> dict[str, Any]:
    """Return the attributes a POST may carry for this service."""
    if code not in CATEGORIES:
        raise Open311Error(404, f"service_code {code} not found")
    yes = [("true", _("Yes")), ("false", _("No"))]
    attributes = [
        _text(
            "poster_code",
            1,
            _("The poster code of the shop or market (or send it as address_id)"),
            required=True,
        ),
        _choice(
            "kind",
            2,
            _("Complaint (wants mediation) or report (points out a violation)"),
            [("complaint", _("Complaint")), ("report", _("Report"))],
        ),
        _choice(
            "consent",
            3,
            _("The shopper agrees that the number is used only for this case"),
            yes,
            required=True,
        ),
        _text("amount", 4, _("Amount involved in yuan"), datatype="number"),
        _choice("wish", 5, _("What the shopper would like"), [(k, str(v)) for k, v in WISHES.items()]),
        _choice("on_site", 6, _("The shopper is at the shop now"), yes),
        _text("shop", 7, _("For a market poster: the id of the shop in that market"), datatype="number"),
    ]
    return {"service_code": code, "attributes": attributes}


def _agency(complaint: Complaint, merchant: str | None, station: str | None, unit: str | None) -> str:
    """Name who holds the case now: the shop, the market's station or the regulator unit."""
    holder = {"merchant": merchant, "station": station, "regulator": unit}.get(complaint.rung)
    return holder or unit or ""


def _notes(session: Session, ids: list[int]) -> dict[int, str]:
    """Return the latest public event of each case, in words (never its body)."""
    latest = (
        select(Event.complaint_id, func.max(Event.seq).label("seq"))
        .where(Event.complaint_id.in_(ids), Event.public.is_(True))
        .group_by(Event.complaint_id)
        .subquery()
    )
    rows = session.execute(
        select(Event.complaint_id, Event.kind, Event.data).join(
            latest, (latest.c.complaint_id == Event.complaint_id) & (latest.c.seq == Event.seq)
        )
    )
    notes = {}
    for complaint_id, kind, data in rows:
        text = str(STATUS_NOTES.get(kind, _l("Updated")))
        if kind in ("outcome", "closed") and data and data.get("outcome"):
            text = f"{text}: {outcome_label(data['outcome'])}"
        notes[complaint_id] = text
    return notes


def find_requests(
    session: Session,
    *,
    ids: Sequence[str] = (),
    service_codes: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: Sequence[str] = (),
    now: datetime,
) -> list[dict[str, Any]]:
    """Return public complaints, newest first: by case numbers, or by the spec's filters."""
    stmt = (
        select(
            Complaint,
            Merchant.name,
            Merchant.address,
            Market.name,
            Market.address,
            Market.station_name,
            RegulatorUnit.name,
        )
        .outerjoin(Merchant, Merchant.id == Complaint.merchant_id)
        .outerjoin(Market, Market.id == Complaint.market_id)
        .join(RegulatorUnit, RegulatorUnit.id == Complaint.unit_id)
        .where(Complaint.kind == "complaint", Complaint.hidden_at.is_(None))
    )
    if ids:
        stmt = stmt.where(Complaint.case_number.in_(list(ids)[:MAX_RESULTS]))
    else:
        if start is None and end is None:
            start = now - timedelta(days=DEFAULT_DAYS)
        if start is not None:
            stmt = stmt.where(Complaint.created_at >= start)
        if end is not None:
            stmt = stmt.where(Complaint.created_at <= end)
        if service_codes:
            stmt = stmt.where(Complaint.category.in_(list(service_codes)))
        if statuses and set(statuses) != {"open", "closed"}:
            closed = Complaint.status == "closed"
            stmt = stmt.where(closed if "closed" in statuses else ~closed)
    rows = session.execute(stmt.order_by(Complaint.id.desc()).limit(MAX_RESULTS)).all()
    notes = _notes(session, [row[0].id for row in rows])
    return [
        public_request(c, notes.get(c.id, ""), shop, shop_address, market, market_address, station, unit)
        for c, shop, shop_address, market, market_address, station, unit in rows
    ]


def public_request(
    complaint: Complaint,
    notes: str,
    shop: str | None,
    shop_address: str | None,
    market: str | None,
    market_address: str | None,
    station: str | None,
    unit: str | None,
) -> dict[str, Any]:
    """Return the spec's request record; every field is public by construction."""
    is_open = complaint.status != "closed"
    place = " ".join(part for part in (market, shop) if part)
    return {
        "service_request_id": complaint.case_number,
        "status": "open" if is_open else "closed",
        "status_notes": notes,
        "service_name": category_label(complaint.category),
        "service_code": complaint.category,
        "description": _("Complaint: %(category)s", category=category_label(complaint.category)),
        "agency_responsible": _agency(complaint, shop, station, unit),
        "service_notice": None,
        "requested_datetime": iso(complaint.created_at),
        "updated_datetime": iso(complaint.updated_at),
        "expected_datetime": iso(complaint.stage_due_at) if is_open else None,
        "address": f"{place} {shop_address or market_address or ''}".strip(),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
