"""The cases behind a figure: the same set condition the count used, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from portal.metric_facts import MetricContext
from portal.metric_sets import case_set
from portal.models import Complaint, Market, Merchant

PAGE_SIZE = 50


@dataclass(frozen=True)
class CaseRow:
    """One listed case with the names the list shows."""

    complaint: Complaint
    merchant_name: str | None
    market_name: str | None


@dataclass(frozen=True)
class CasePage:
    """A page of cases, newest first, and the cursor of the next page."""

    rows: list[CaseRow]
    next_before: int | None


def _select(
    where: Sequence[ColumnElement[bool]], ctx: MetricContext, set_key: str
) -> Select[Complaint, str | None, str | None]:
    """Return the SELECT of the set's cases with shop and market names, newest first."""
    return (
        select(Complaint, Merchant.name, Market.name)
        .outerjoin(Merchant, Merchant.id == Complaint.merchant_id)
        .outerjoin(Market, Market.id == Complaint.market_id)
        .where(*where, case_set(set_key, ctx))
        .order_by(Complaint.id.desc())
    )


def case_page(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    ctx: MetricContext,
    set_key: str,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> CasePage:
    """Return one page of the set's cases; keyset on id, never OFFSET."""
    conditions = [*where, Complaint.id < before] if before is not None else list(where)
    stmt = _select(conditions, ctx, set_key).limit(size + 1)
    rows = [CaseRow(c, m, k) for c, m, k in session.execute(stmt).all()]
    more = len(rows) > size
    rows = rows[:size]
    return CasePage(rows, rows[-1].complaint.id if more and rows else None)


def count_cases(
    session: Session, where: Sequence[ColumnElement[bool]], ctx: MetricContext, set_key: str
) -> int:
    """Count the set's cases the way the list finds them."""
    stmt = select(func.count(Complaint.id)).where(*where, case_set(set_key, ctx))
    return int(session.scalar(stmt) or 0)
