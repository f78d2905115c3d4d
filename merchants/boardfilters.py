"""The board's filters: parsed from the query string, turned into WHERE conditions."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, and_, null, or_, select, true
from sqlalchemy.orm import Session

from merchants.access import SIGNAL_ROLES, merchant_scope
from portal.categories import CATEGORIES
from portal.i18n import SHANGHAI
from portal.models import Complaint, Merchant, User

STATUS_OF = {"black": "new", "red": "handling", "green": "closed"}
SHOP_MATCHES = 50
# Intake stamps created_at and takes the id in one request, so ids follow creation time to
# within a request's duration. With an hour's margin, a date range also bounds the ids
# exactly, and the board walks its id index instead of every case in the range.
ID_SKEW = timedelta(hours=1)


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to; every field is optional and checked on parsing."""

    merchant: int | None = None
    shop: str | None = None
    category: str | None = None
    colour: str | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    case_number: str | None = None
    # Only cases whose number is flagged as repeat (station, regulator and admin: see for_role).
    flagged: bool | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> BoardFilters:
        """Read the query string, dropping anything malformed rather than failing."""
        merchant = args.get("merchant", "")
        number = unicodedata.normalize("NFKC", args.get("q", "")).strip().upper()
        return cls(
            merchant=int(merchant) if merchant.isdigit() else None,
            shop=args.get("shop", "").strip()[:60] or None,
            category=_pick(args.get("category"), CATEGORIES),
            colour=_pick(args.get("colour"), STATUS_OF),
            kind=_pick(args.get("kind"), ("complaint", "report")),
            date_from=_date(args.get("from")),
            date_to=_date(args.get("to")),
            case_number=number[:20] or None,
            flagged=True if args.get("flagged") == "1" else None,
        )

    def for_role(self, role: str) -> BoardFilters:
        """Drop what the role may not use: merchants neither search numbers nor see the flag."""
        if role in SIGNAL_ROLES:
            return self
        return replace(self, case_number=None, flagged=None)

    def as_args(self) -> dict[str, str]:
        """Return the filters as query-string arguments, for links that keep them."""
        names = {"date_from": "from", "date_to": "to", "case_number": "q"}
        found = {names.get(k, k): v for k, v in asdict(self).items() if v is not None}
        return {k: "1" if v is True else str(v) for k, v in found.items()}


def _pick(value: str | None, allowed: Mapping[str, object] | tuple[str, ...]) -> str | None:
    """Return the value if it is one of the allowed keys."""
    return value if value and value in allowed else None


def _date(value: str | None) -> date | None:
    """Parse an ISO date, or None."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _local_midnight(day: date) -> datetime:
    """Return the start of a Shanghai day as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def shop_ids(session: Session, user: User, filters: BoardFilters) -> list[int] | None:
    """Return the shops in scope whose name holds the typed text (None when not filtering)."""
    if not filters.shop:
        return None
    shops = select(Merchant.id).where(
        merchant_scope(session, user), Merchant.name.contains(filters.shop, autoescape=True)
    )
    return list(session.scalars(shops.limit(SHOP_MATCHES)))


def conditions(session: Session, user: User, filters: BoardFilters) -> list[ColumnElement[bool]]:
    """Return the filter conditions besides scope, shop name and dates (see id_window)."""
    found: list[ColumnElement[bool]] = []
    if filters.merchant is not None:
        found.append(Complaint.merchant_id == filters.merchant)
    if filters.category:
        found.append(Complaint.category == filters.category)
    if filters.kind:
        found.append(Complaint.kind == filters.kind)
    if filters.case_number:
        found.append(Complaint.case_number == filters.case_number)
    if filters.flagged:
        # Written as the partial indexes' condition, so the walk reads flagged cases only.
        found.append(Complaint.repeat_phone_flag == true())
    return found


def _day_end(day: date) -> datetime:
    """Return where a "to" day ends: the next Shanghai midnight (the day is included)."""
    return _local_midnight(day + timedelta(days=1))


@dataclass(frozen=True)
class IdWindow:
    """A date range as ids: exclusive bounds (above, below), less the strays between them."""

    above: int | None = None
    below: int | None = None
    strays: tuple[int, ...] = ()

    @property
    def edges(self) -> list[ColumnElement[bool]]:
        """Return the condition that leaves out the strays, if there are any."""
        return [Complaint.id.not_in(self.strays)] if self.strays else []


def _last_before(moment: datetime) -> ScalarSelect[int]:
    """The id of the last case created before `moment`."""
    found = select(Complaint.id).where(Complaint.created_at < moment)
    return found.order_by(Complaint.created_at.desc()).limit(1).scalar_subquery()


def _first_from(moment: datetime) -> ScalarSelect[int]:
    """The id of the first case created at or after `moment`."""
    found = select(Complaint.id).where(Complaint.created_at >= moment)
    return found.order_by(Complaint.created_at).limit(1).scalar_subquery()


def _strictly_between(low: int | None, high: int | None) -> ColumnElement[bool]:
    """Ids above low and below high; either end unbounded when None."""
    return and_(
        Complaint.id > low if low is not None else true(),
        Complaint.id < high if high is not None else true(),
    )


def id_window(session: Session, filters: BoardFilters) -> IdWindow:
    """Turn the Shanghai days of the date filter into ids: bounds, less the strays near them.

    Ids follow creation time to within ID_SKEW, so every case created ID_SKEW before (after) a
    case has a smaller (larger) id. That gives outer bounds, and inner ones past which every id
    is surely in range; between the two a few cases may lie outside the days, and one look by
    id finds them. The board then filters on ids alone, walking its index newest first: a
    created_at condition made PostgreSQL prefer a created_at index and sort a month of cases.
    """
    start = _local_midnight(filters.date_from) if filters.date_from else None
    end = _day_end(filters.date_to) if filters.date_to else None
    if start is None and end is None:
        return IdWindow()
    bounds = select(
        _last_before(start - ID_SKEW) if start else null(),
        _first_from(start + ID_SKEW) if start else null(),
        _last_before(end - ID_SKEW) if end else null(),
        _first_from(end + ID_SKEW) if end else null(),
    )
    above, surely_after, surely_before, below = session.execute(bounds).one()
    # The edges: (above, surely_after] and [surely_before, below).
    edges = [_strictly_between(above, None if surely_after is None else surely_after + 1)] if start else []
    edges += [_strictly_between(None if surely_before is None else surely_before - 1, below)] if end else []
    inside = and_(
        Complaint.created_at >= start if start else true(),
        Complaint.created_at < end if end else true(),
    )
    strays = session.scalars(select(Complaint.id).where(or_(*edges), ~inside))
    return IdWindow(above, below, tuple(strays))
