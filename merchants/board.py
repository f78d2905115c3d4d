"""The black / red / green board, its phone search and the poll that brings new cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, get_template_attribute, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from merchants import cardtext
from merchants.access import ALL_ROLES, SIGNAL_ROLES, background, current_staff, public, roles
from merchants.blueprint import bp
from merchants.boardfilters import BoardFilters
from merchants.boardquery import (
    Card,
    Column,
    board_columns,
    cards_by_number,
    cards_by_phone,
    cards_since,
    latest_id,
    merchant_choices,
)
from merchants.channels import channel_name, failing_channels
from merchants.forms_cases import PhoneSearchForm
from portal.categories import CATEGORIES
from portal.db import get_session, utcnow
from portal.phones import PhoneError, normalise_mobile

SEARCH_ROLES = ("station", "regulator", "admin")
BOARD_JS = Path(__file__).resolve().parent / "static" / "board.js"

bp.record_once(lambda state: cardtext.init_app(cast(Flask, state.app)))


def _poll_seconds() -> int:
    """Return how often the board asks for new cases (KUAISU_BOARD_POLL_SECONDS)."""
    return max(1, int(current_app.config.get("BOARD_POLL_SECONDS", 20)))


def _render(
    filters: BoardFilters,
    *,
    found: list[Card] | None = None,
    phone_form: PhoneSearchForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """Render the board (or phone-search results) with its filter bar."""
    session, user = get_session(), current_staff()
    before = request.args.get("before", "")
    since = latest_id(session)
    cursor = int(before) if before.isdigit() and filters.colour else None
    columns = [] if found is not None else board_columns(session, user, filters, cursor, top=since)
    page = render_template(
        "office/board.html",
        columns=columns,
        found=found,
        filters=filters,
        user=user,
        now=utcnow(),
        since=since,
        poll=_poll_seconds(),
        merchants=merchant_choices(session, user) if user.role != "merchant" else None,
        categories=CATEGORIES,
        can_search=user.role in SEARCH_ROLES,
        flags=user.role in SIGNAL_ROLES,
        # The station is told at once when its group robot or mailbox stops taking messages.
        failing=failing_channels(session, user) if user.role == "station" else [],
        channel_name=channel_name,
        phone_form=phone_form or PhoneSearchForm(),
        more_url=lambda column: _more_url(filters, column),
    )
    return page, status


def _more_url(filters: BoardFilters, column: Column) -> str:
    """Link to the next page of one colour, keeping the filters."""
    args: dict[str, Any] = {**filters.as_args(), "colour": column.colour, "before": str(column.next_before)}
    return url_for("office.board", **args)


@bp.get("/")
@roles(*ALL_ROLES)
def board() -> tuple[str, int]:
    """Show the board, filtered by the query string; station and up may search a case number."""
    user = current_staff()
    filters = BoardFilters.from_args(request.args).for_role(user.role)
    if filters.case_number is None:
        return _render(filters)
    return _render(filters, found=cards_by_number(get_session(), user, filters.case_number))


@bp.post("/board/phone")
@roles(*SEARCH_ROLES)
def board_phone() -> tuple[str, int]:
    """Find cases by the shopper's mobile; posted, so the number stays out of URLs and logs."""
    form = PhoneSearchForm()
    if not form.validate_on_submit():
        return _render(BoardFilters(), phone_form=form, status=400)
    try:
        phone = normalise_mobile(form.phone.data or "")
    except PhoneError:
        form.phone.errors = [_("Enter an 11-digit mainland mobile number.")]
        return _render(BoardFilters(), phone_form=form, status=400)
    found = cards_by_phone(get_session(), current_staff(), phone)
    return _render(BoardFilters(), found=found, phone_form=form)


@bp.get("/board/updates")
@roles(*ALL_ROLES)
@background
def board_updates() -> dict[str, Any]:
    """Return the cases that arrived after ?since=, as card HTML per colour, for the poll."""
    since = request.args.get("since", "")
    if not since.isdigit():
        return {"count": 0, "latest": 0, "cards": []}
    session, user = get_session(), current_staff()
    filters = BoardFilters.from_args(request.args).for_role(user.role)
    found = cards_since(session, user, filters, int(since))
    now, card_item = utcnow(), get_template_attribute("office/_card.html", "card_item")
    flags = user.role in SIGNAL_ROLES
    cards = [
        {
            "id": card.complaint.id,
            "colour": _colour(card),
            "html": str(card_item(card, now, flags)),
        }
        for card in found
    ]
    latest = max([int(since)] + [card.complaint.id for card in found])
    return {"count": len(cards), "latest": latest, "cards": cards}


def _colour(card: Card) -> str:
    """Return the board colour of a card's case."""
    return {"new": "black", "handling": "red", "closed": "green"}[card.complaint.status]


@bp.get("/board.js")
@public
def board_js() -> Response:
    """Serve the board's small progressive-enhancement script (CSP: script-src 'self')."""
    return Response(
        BOARD_JS.read_bytes(), mimetype="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
    )
