"""The facts about one case that every figure is built from, each written once as SQL.

A fact is a small whole number computed from the case's row (its stamps against its
market's limits, its status, outcome…), or a bit mask over its stage clocks and its
escalations. The row facts pack into one number, the *signature*, so a dashboard counts a
million cases with one GROUP BY over (day, category, signature, clock mask, escalation mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, func, literal, or_, select

from portal.models import Complaint, Event, StageClock
from portal.sqltime import epoch_seconds

# Stages whose clock is a duty with a deadline. The return window (退单, 20 h) is a right
# a unit may use, not a duty: a case kept is not "late", so it is left out.
DUTY_STAGES = (
    "respond",
    "onsite",
    "feedback",
    "tell_return",
    "accept",
    "mediation",
    "termination_notice",
    "verify",
)
STAGE_BIT = {stage: 1 << index for index, stage in enumerate(DUTY_STAGES)}
DECIDED_SHIFT, EXTENDED_BIT = 8, 1 << 16
RUNGS = ("station", "regulator")
RUNG_BIT = {"station": 1, "regulator": 2}
# Values of the timed facts (respond, onsite, feedback).
NOT_TIMED, PENDING, ON_TIME, LATE, MISSED = range(5)
OUTCOMES = ("self_settled", "mediated", "failed", "not_accepted")
# A tolerance for float seconds: a reply at exactly 45:00 is on time.
_EPSILON = 0.001


@dataclass(frozen=True, eq=False)
class MetricContext:
    """What the facts need besides the row: the moment of measuring and each case's limits.

    Compared by identity: the facts built for one context are remembered (row_facts).
    """

    now: datetime
    respond_minutes: ColumnElement[Any] | int = 45
    onsite_minutes: ColumnElement[Any] | int = 90
    feedback_minutes: ColumnElement[Any] | int = 1440
    # The longest of those limits over every case: older cases have no timed fact pending.
    longest_minutes: int = 1440


def _seconds(minutes: ColumnElement[Any] | int) -> ColumnElement[Any]:
    """Turn a limit in minutes (a number, or a per-case SQL expression) into seconds."""
    return (minutes if isinstance(minutes, ColumnElement) else literal(minutes)) * 60


def _timed(
    stamp: Any, minutes: ColumnElement[Any] | int, ctx: MetricContext, applies: ColumnElement[bool]
) -> ColumnElement[int]:
    """Say how a clock from receipt went: on time, late, missed (no stamp, limit passed) or pending."""
    created = epoch_seconds(Complaint.created_at)
    return case(
        (~applies, NOT_TIMED),
        (
            stamp.is_not(None),
            case((epoch_seconds(stamp) - created <= _seconds(minutes) + _EPSILON, ON_TIME), else_=LATE),
        ),
        (created + _seconds(minutes) < ctx.now.timestamp(), MISSED),
        else_=PENDING,
    )


@lru_cache(maxsize=8)
def row_facts(ctx: MetricContext) -> dict[str, tuple[ColumnElement[int], int]]:
    """Return each row fact as (SQL value, number of values), in signature order."""
    c = Complaint
    complaint = c.kind == "complaint"
    return {
        "valid": (case((c.hidden_at.is_(None), 1), else_=0), 2),
        "report": (case((complaint, 0), else_=1), 2),
        "status": (case((c.status == "new", 0), (c.status == "handling", 1), else_=2), 3),
        "overdue": (case((and_(c.status != "closed", c.stage_due_at < ctx.now), 1), else_=0), 2),
        "respond": (_timed(c.first_response_at, ctx.respond_minutes, ctx, complaint), 5),
        "onsite": (_timed(c.onsite_at, ctx.onsite_minutes, ctx, and_(complaint, c.on_site.is_(True))), 5),
        "feedback": (_timed(c.feedback_at, ctx.feedback_minutes, ctx, complaint), 5),
        "outcome": (case(*[(c.outcome == o, i + 1) for i, o in enumerate(OUTCOMES)], else_=0), 5),
        "rated": (case((c.satisfaction.is_not(None), 1), else_=0), 2),
        "recovered": (case((c.recovered_fen > 0, 1), else_=0), 2),
    }


FACT_SIZES = (
    ("valid", 2),
    ("report", 2),
    ("status", 3),
    ("overdue", 2),
    ("respond", 5),
    ("onsite", 5),
    ("feedback", 5),
    ("outcome", 5),
    ("rated", 2),
    ("recovered", 2),
)


def signature(ctx: MetricContext) -> ColumnElement[int]:
    """Pack the row facts into one number (mixed radix, in row_facts order)."""
    total: ColumnElement[int] | None = None
    weight = 1
    facts = row_facts(ctx)
    assert [(name, size) for name, (_v, size) in facts.items()] == list(FACT_SIZES)
    for value, size in facts.values():
        term = value * weight if weight > 1 else value
        total = term if total is None else total + term
        weight *= size
    assert total is not None
    return total


def packed_fact(packed: Any, name: str) -> ColumnElement[int]:
    """Return one fact out of a stored signature, in SQL: (signature // weight) % size."""
    weight = 1
    for fact, size in FACT_SIZES:
        if fact == name:
            shifted: ColumnElement[int] = packed // weight if weight > 1 else packed
            return shifted % size
        weight *= size
    raise KeyError(name)


def unpack(packed: int) -> dict[str, int]:
    """Turn a signature back into its facts."""
    facts = {}
    for name, size in FACT_SIZES:
        packed, facts[name] = divmod(packed, size)
    return facts


def _counted() -> ColumnElement[bool]:
    """A clock stopped by merging its case into another is no verdict on the stage: the case
    that continues carries the duty. (Unlinking starts new clocks; the merged ones stay.)"""
    return func.coalesce(StageClock.stop_reason, "") != "merged"


def clock_late(ctx: MetricContext) -> ColumnElement[bool]:
    """A stage clock missed its deadline: stopped after it, or still running past it."""
    k = StageClock
    return or_(
        and_(k.stopped_at > k.due_at, _counted()),
        and_(k.stopped_at.is_(None), k.paused_since.is_(None), k.due_at < ctx.now),
    )


def clock_decided(ctx: MetricContext) -> ColumnElement[bool]:
    """A stage clock has a verdict: stopped (not by a merge), or past its deadline (a paused
    clock waits)."""
    k = StageClock
    return or_(
        and_(k.stopped_at.is_not(None), _counted()),
        and_(k.stopped_at.is_(None), k.paused_since.is_(None), k.due_at < ctx.now),
    )


def clock_mask_of(ctx: MetricContext) -> ColumnElement[int]:
    """Aggregate a case's clocks: late stages, decided stages << 8, an extended verification.

    A stage that is no duty (the return window) has bit 0 and so adds nothing; no WHERE on
    the stage is needed, which keeps the lookup to one index probe per case.
    """
    bit = case(*[(StageClock.stage == s, b) for s, b in STAGE_BIT.items()], else_=0)
    late = func.coalesce(func.sum(func.distinct(case((clock_late(ctx), bit)))), 0)
    decided = func.coalesce(func.sum(func.distinct(case((clock_decided(ctx), bit)))), 0)
    extended = func.max(case((and_(StageClock.stage == "verify", StageClock.extended.is_(True)), 1), else_=0))
    return late + decided * (1 << DECIDED_SHIFT) + extended * EXTENDED_BIT


def escalation_mask_of() -> ColumnElement[int]:
    """Aggregate a case's escalations: 1 to the station, 2 to the regulator."""
    rung = Event.data["to"].as_string()
    return func.coalesce(func.sum(func.distinct(case(*[(rung == r, b) for r, b in RUNG_BIT.items()]))), 0)


def clock_mask(ctx: MetricContext) -> ScalarSelect[int]:
    """The clock mask of the case in the current row (for listing cases)."""
    return select(clock_mask_of(ctx)).where(StageClock.complaint_id == Complaint.id).scalar_subquery()


def escalation_mask() -> ScalarSelect[int]:
    """The escalation mask of the case in the current row (for listing cases)."""
    return (
        select(escalation_mask_of())
        .where(Event.complaint_id == Complaint.id, Event.kind == "escalated")
        .scalar_subquery()
    )
