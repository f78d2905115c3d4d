"""What an export contains: the dashboard's figures, or the cases behind one figure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from portal.categories import category_label
from portal.closing import outcome_label
from portal.dashboard import Dashboard
from portal.export_files import Cell, Sheet
from portal.i18n import shanghai
from portal.metric_facts import MetricContext
from portal.metric_sets import SET_LABELS, case_set
from portal.models import Complaint, Market, Merchant
from portal.phones import mask, mask_name

MAX_ROWS = 50_000


class ExportTooLargeError(Exception):
    """The list has more rows than one export may carry; narrow the filters."""


def figure_sheets(board: Dashboard) -> list[Sheet]:
    """Return the figures (with formulas), the categories and the days as tables."""
    c = board.counts
    rows: list[Sequence[Cell]] = [
        [str(SET_LABELS[k]), c.get(k, 0), None, None, None]
        for k in ("received", "hidden", "accepted", "closed", "open_new", "open_handling", "overdue")
    ]
    rows.append([_("Money recovered (yuan)"), c.get("recovered_fen", 0) / 100, None, None, None])
    for rate, value in board.rates:
        rows.append([str(rate.label), value.percent(), value.numerator, value.denominator, str(rate.formula)])
    satisfaction = f"{board.satisfaction:.2f}" if board.satisfaction is not None else "—"
    rows.append(
        [
            _("Average satisfaction"),
            satisfaction,
            c.get("satisfaction_sum", 0),
            c.get("rated", 0),
            _("sum of scores (1–5) ÷ rated closed cases"),
        ]
    )
    period = f"{board.filters.start} — {board.filters.end}"
    return [
        Sheet(
            _("Figures"),
            [_("Figure") + f" ({period})", _("Value"), _("Numerator"), _("Denominator"), _("Definition")],
            rows,
        ),
        Sheet(
            _("Types of problem"),
            [_("Type of problem"), _("Cases")],
            [[label, n] for _code, label, n in board.categories],
        ),
        Sheet(
            _("Days"),
            [_("Day"), _("Received"), _("Closed")],
            [[d.isoformat(), r, k] for d, r, k in board.days],
        ),
    ]


def case_sheet(
    session: Session, where: Sequence[ColumnElement[bool]], ctx: MetricContext, metric: str, personal: bool
) -> Sheet:
    """Return the set's cases as a table; personal data masked unless `personal`."""
    condition = case_set(metric, ctx)
    total = session.scalar(select(func.count(Complaint.id)).where(*where, condition)) or 0
    if total > MAX_ROWS:
        raise ExportTooLargeError(total)
    header = [
        _("Case number"),
        _("Received"),
        _("Kind"),
        _("Type of problem"),
        _("Shop"),
        _("Market"),
        _("Status"),
        _("Outcome"),
        _("Money recovered (yuan)"),
        _("Satisfaction"),
        _("Mobile number"),
        _("Name"),
    ]
    if personal:
        header.append(_("What happened"))
    return Sheet(
        str(SET_LABELS[metric]), header, _case_rows(session, where, condition, personal), count=total
    )


def _case_rows(
    session: Session, where: Sequence[ColumnElement[bool]], condition: ColumnElement[bool], personal: bool
) -> Iterator[list[Cell]]:
    """Stream the rows in id order, a thousand at a time."""
    stmt = (
        select(
            Complaint.case_number,
            Complaint.created_at,
            Complaint.kind,
            Complaint.category,
            Merchant.name,
            Market.name,
            Complaint.status,
            Complaint.outcome,
            Complaint.recovered_fen,
            Complaint.satisfaction,
            Complaint.phone,
            Complaint.name,
            Complaint.description,
        )
        .outerjoin(Merchant, Merchant.id == Complaint.merchant_id)
        .outerjoin(Market, Market.id == Complaint.market_id)
        .where(*where, condition)
        .order_by(Complaint.id.desc())
        .execution_options(yield_per=1000)
    )
    kinds = {"complaint": _("Complaint"), "report": _("Report")}
    statuses = {"new": _("New"), "handling": _("Being handled"), "closed": _("Closed")}
    for (
        number,
        created,
        kind,
        category,
        shop,
        market,
        status,
        outcome,
        recovered,
        score,
        phone,
        name,
        description,
    ) in session.execute(stmt):
        local = shanghai(created)
        row: list[Cell] = [
            number,
            local.strftime("%Y-%m-%d %H:%M") if local else "",
            kinds.get(kind, kind),
            category_label(category),
            shop or "",
            market or "",
            statuses.get(status, status),
            outcome_label(outcome) if outcome else "",
            recovered / 100 if recovered is not None else None,
            score,
            (phone or "") if personal else mask(phone),
            (name or "") if personal else mask_name(name),
        ]
        if personal:
            row.append(description)
        yield row
