"""The board's reads: keyset pages per colour that stay fast at a million cases, and searches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select, true, tuple_, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from merchants.access import complaint_scope, merchant_scope, scope_units
from merchants.boardfilters import STATUS_OF, BoardFilters, conditions, id_window, shop_ids
from portal.models import Complaint, Market, Merchant, RegulatorUnit, User

Attr = InstrumentedAttribute[Any]
Ids = Select[int]
PAGE_SIZE = 20
# A station sees tens of shops; a city regulator thousands, who then filter by shop name.
MERCHANT_CHOICES = 300


@dataclass
class Card:
    """One case on the board, with the names the card shows."""

    complaint: Complaint
    place: str
    assignee_name: str | None


@dataclass
class Column:
    """One colour's page of cards and the cursor of the next page, if there is one."""

    colour: str
    cards: list[Card]
    next_before: int | None


def _cards(session: Session, ids: Sequence[int]) -> list[Card]:
    """Load the cases with these ids, newest first, with the shop's (or market's) and taker's names."""
    if not ids:
        return []
    # Each name is a primary-key lookup per card: as joins, PostgreSQL hashed every shop.
    shop = select(Merchant.name).where(Merchant.id == Complaint.merchant_id).scalar_subquery()
    market = select(Market.name).where(Market.id == Complaint.market_id).scalar_subquery()
    taker = select(User.display_name).where(User.id == Complaint.assignee_id).scalar_subquery()
    rows = session.execute(
        select(Complaint, shop, market, taker).where(Complaint.id.in_(ids)).order_by(Complaint.id.desc())
    ).all()
    return [Card(c, shop or market or "", taker) for c, shop, market, taker in rows]


@dataclass(frozen=True)
class Slice:
    """One colour's cases wanted: status, other filters, and the open id range (above, below)."""

    status: str
    wanted: list[ColumnElement[bool]]
    above: int | None
    below: int

    def plain(self) -> list[ColumnElement[bool]]:
        """Return every condition with the id range as plain comparisons."""
        found = [Complaint.status == self.status, *self.wanted, Complaint.id < self.below]
        return found + ([Complaint.id > self.above] if self.above is not None else [])

    def on_index(self, key: Attr, part: Attr) -> list[ColumnElement[bool]]:
        """Return the conditions for one part's walk on the board index, bounds as rows too.

        With only a plain id bound PostgreSQL may walk the primary key backwards and, for a
        unit with few cases of that status, read the whole table (1.5 s at a million cases);
        the bounds written against (key, status, id) rows fit only the board index, and the
        plain upper bound beside them is where its backward walk starts (1.7 ms, 63 pages).
        """
        row = tuple_(key, Complaint.status, Complaint.id)
        found = [key == part, Complaint.status == self.status, *self.wanted, Complaint.id < self.below]
        found.append(row < tuple_(part, literal(self.status), literal(self.below)))
        if self.above is not None:
            found.append(row > tuple_(part, literal(self.status), literal(self.above)))
        return found

    @property
    def empty(self) -> bool:
        """Return whether no id fits between the bounds (a cursor below a date range)."""
        return self.above is not None and self.below <= self.above + 1


def _newest(session: Session, user: User, cases: Slice, want: int, shops: list[int] | None) -> Ids | None:
    """Return the query for up to `want` ids in scope in the slice, newest first, or None if empty."""
    if cases.empty:
        return None
    if shops is not None:
        scoped = replace(cases, wanted=[*cases.wanted, complaint_scope(session, user)])
        return _merged_walk(session, Merchant, shops, scoped, want)
    units = scope_units(session, user)
    if units is not None:
        return _merged_walk(session, RegulatorUnit, units, cases, want)
    # One index range: WHERE scope AND status = ? AND id < ? ORDER BY id DESC LIMIT n.
    stmt = select(Complaint.id).where(complaint_scope(session, user), *cases.plain())
    return stmt.order_by(Complaint.id.desc()).limit(literal(want, literal_execute=True))


def _merged_walk(
    session: Session,
    parent: type[Merchant] | type[RegulatorUnit],
    ids: list[int],
    cases: Slice,
    want: int,
) -> Ids | None:
    """Walk one board index range per shop or unit newest first, cut each at `want`, merge."""
    if not ids:
        return None
    key = Complaint.merchant_id if parent is Merchant else Complaint.unit_id
    # PostgreSQL does that with LATERAL; SQLite stops each range's walk by itself once the
    # ORDER BY ... LIMIT is settled, so a plain join through the parents is the same plan.
    if session.get_bind().dialect.name == "postgresql":
        per_part = (
            select(Complaint.id)
            .where(*cases.on_index(key, parent.id))
            .order_by(Complaint.id.desc())
            .limit(want)
            .lateral()
        )
        merged = select(per_part.c.id).select_from(parent).join(per_part, true())
        newest = per_part.c.id.desc()
    else:
        merged = select(Complaint.id).select_from(parent).join(Complaint, key == parent.id)
        merged, newest = merged.where(*cases.plain()), Complaint.id.desc()
    # SQLite plans the per-range walk only when it sees the LIMIT's value, not a "?". The
    # first page's cursor sits just above the newest id for the same reason: with no bound
    # on id, SQLite would rather scan the table newest first.
    limit = literal(want, literal_execute=True)
    return merged.where(parent.id.in_(ids)).order_by(newest).limit(limit)


def _column_ids(
    session: Session, user: User, colours: list[str], filters: BoardFilters, before: int, size: int
) -> dict[str, list[int]]:
    """Return up to size + 1 ids of each colour under the cursor, newest first, in one query."""
    window = id_window(session, filters)
    wanted = [*conditions(session, user, filters), *window.edges]
    below = before if window.below is None else min(before, window.below)
    shops = shop_ids(session, user, filters)
    found: dict[str, list[int]] = {colour: [] for colour in colours}
    walks = []
    for colour in colours:
        walk = _newest(session, user, Slice(STATUS_OF[colour], wanted, window.above, below), size + 1, shops)
        if walk is not None:
            # Each walk stays a subquery with its own ORDER BY ... LIMIT; only the rows are merged.
            part = walk.subquery()
            walks.append(select(part.c.id, literal(colour, literal_execute=True).label("colour")))
    if walks:
        for row_id, colour in session.execute(walks[0] if len(walks) == 1 else union_all(*walks)):
            found[colour].append(row_id)
    for ids in found.values():
        ids.sort(reverse=True)
    return found


def column_page(
    session: Session,
    user: User,
    colour: str,
    filters: BoardFilters,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> Column:
    """Return one colour's page: WHERE scope AND status AND id < cursor ORDER BY id DESC."""
    cursor = before if before is not None else latest_id(session) + 1
    ids = _column_ids(session, user, [colour], filters, cursor, size)[colour]
    return Column(colour, _cards(session, ids[:size]), ids[size - 1] if len(ids) > size else None)


def board_columns(
    session: Session, user: User, filters: BoardFilters, before: int | None = None, *, top: int
) -> list[Column]:
    """Return the black, red and green columns (or just the filtered colour); top: newest id."""
    colours = [filters.colour] if filters.colour else list(STATUS_OF)
    cursor = before if before is not None else top + 1
    pages = _column_ids(session, user, colours, filters, cursor, PAGE_SIZE)
    # One query loads the cards of all three columns.
    loaded = {
        card.complaint.id: card
        for card in _cards(session, [i for ids in pages.values() for i in ids[:PAGE_SIZE]])
    }
    return [
        Column(
            colour,
            [loaded[i] for i in ids[:PAGE_SIZE] if i in loaded],
            ids[PAGE_SIZE - 1] if len(ids) > PAGE_SIZE else None,
        )
        for colour, ids in pages.items()
    ]


def cards_by_phone(session: Session, user: User, phone: str, limit: int = 50) -> list[Card]:
    """Return the user's cases from one normalised mobile number, newest first."""
    ids = select(Complaint.id).where(Complaint.phone == phone, complaint_scope(session, user))
    return _cards(session, list(session.scalars(ids.order_by(Complaint.id.desc()).limit(limit))))


def cards_by_number(session: Session, user: User, case_number: str) -> list[Card]:
    """Return the user's case with this number, if any (the number is unique)."""
    ids = select(Complaint.id).where(Complaint.case_number == case_number, complaint_scope(session, user))
    return _cards(session, list(session.scalars(ids)))


def cards_since(
    session: Session, user: User, filters: BoardFilters, since: int, limit: int = PAGE_SIZE
) -> list[Card]:
    """Return the cases in scope that arrived after id `since`, newest first."""
    window = id_window(session, filters)
    wanted = [Complaint.id > since, complaint_scope(session, user), *conditions(session, user, filters)]
    wanted += [*window.edges]
    wanted += [Complaint.id > window.above] if window.above is not None else []
    wanted += [Complaint.id < window.below] if window.below is not None else []
    shops = shop_ids(session, user, filters)
    if shops is not None:
        wanted.append(Complaint.merchant_id.in_(shops))
    ids = select(Complaint.id).where(*wanted).order_by(Complaint.id.desc()).limit(limit)
    return _cards(session, list(session.scalars(ids)))


def latest_id(session: Session) -> int:
    """Return the newest case id anywhere: the poll asks for anything after it."""
    return session.scalar(select(func.max(Complaint.id))) or 0


def merchant_choices(session: Session, user: User) -> list[tuple[int, str]] | None:
    """Return the shops in scope for a filter list, or None when there are too many."""
    # One query: a top-N sort by name that stops at the cap, even over a city's shops.
    rows = session.execute(
        select(Merchant.id, Merchant.name)
        .where(merchant_scope(session, user))
        .order_by(Merchant.name, Merchant.id)
        .limit(MERCHANT_CHOICES + 1)
    ).all()
    return None if len(rows) > MERCHANT_CHOICES else [(i, n) for i, n in rows]
