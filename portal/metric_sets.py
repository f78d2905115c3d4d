"""The case sets behind every figure, each defined once as conditions on a case's facts.

A *case set* (closed, responded in time, late at mediation…) is a list of conditions on
the facts of portal.metric_facts. The dashboard counts it from grouped signatures and its
drill-down lists it with the same conditions turned into SQL, so a figure and the cases
behind it always agree (tests/portal/test_metrics.py checks every set both ways).

Hidden cases (spam, duplicates) stay in the statistics as hidden: they count in `received`
and are shown as `hidden`, but every other set is over the valid (not hidden) cases, so a
hidden spam case lowers neither the closure rate nor the respond rate.
Cases are counted by the Shanghai day they were received (a cohort), and timed against the
promise of their market (or unit, for a shop outside a market) as it stands today.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, func, true

from portal.metric_facts import (
    DECIDED_SHIFT,
    EXTENDED_BIT,
    LATE,
    MISSED,
    ON_TIME,
    OUTCOMES,
    RUNG_BIT,
    STAGE_BIT,
    MetricContext,
    clock_mask,
    escalation_mask,
    packed_fact,
    row_facts,
    unpack,
)
from portal.models.facts import SET_COLUMNS

ALL_LATE = sum(STAGE_BIT.values())


@dataclass(frozen=True)
class Cond:
    """One condition: a row fact takes one of `values`, or a mask has / lacks some bits."""

    fact: str
    values: frozenset[int] = frozenset()
    any_bits: int = 0
    no_bits: int = 0

    def holds(self, facts: Mapping[str, int]) -> bool:
        """Evaluate on a case's facts (counting)."""
        value = facts[self.fact]
        if self.values and value not in self.values:
            return False
        if self.any_bits and not value & self.any_bits:
            return False
        return not value & self.no_bits

    def sql(self, ctx: MetricContext) -> ColumnElement[bool]:
        """Express as SQL on the current complaint row (listing)."""
        if self.fact in ("clocks", "escalations"):
            mask = func.coalesce(clock_mask(ctx) if self.fact == "clocks" else escalation_mask(), 0)
            parts = []
            if self.any_bits:
                parts.append(mask.bitwise_and(self.any_bits) != 0)
            if self.no_bits:
                parts.append(mask.bitwise_and(self.no_bits) == 0)
            return and_(*parts)
        return row_facts(ctx)[self.fact][0].in_(sorted(self.values))

    def on_stored(self, packed: Any, clocks: Any, escalations: Any) -> ColumnElement[bool]:
        """Express as SQL on stored facts: a packed signature and the two masks (case_fact)."""
        if self.fact in ("clocks", "escalations"):
            mask = clocks if self.fact == "clocks" else escalations
            parts = []
            if self.any_bits:
                parts.append(mask.bitwise_and(self.any_bits) != 0)
            if self.no_bits:
                parts.append(mask.bitwise_and(self.no_bits) == 0)
            return and_(*parts)
        return packed_fact(packed, self.fact).in_(sorted(self.values))


def _is(fact: str, *values: int) -> Cond:
    return Cond(fact, frozenset(values))


VALID = _is("valid", 1)
CLOSED = _is("status", 2)
COMPLAINT = _is("report", 0)
_OUTCOME = {name: index + 1 for index, name in enumerate(OUTCOMES)}


def _timed_sets(name: str) -> dict[str, tuple[Cond, ...]]:
    """The three sets of a clock timed from receipt: decided, on time, late or missed."""
    return {
        f"{name}_due": (VALID, _is(name, ON_TIME, LATE, MISSED)),
        f"{name}_on_time": (VALID, _is(name, ON_TIME)),
        f"{name}_late": (VALID, _is(name, LATE, MISSED)),
    }


SETS: dict[str, tuple[Cond, ...]] = {
    "received": (),
    "hidden": (_is("valid", 0),),
    "valid": (VALID,),
    "accepted": (VALID, _is("outcome", 0, *[v for k, v in _OUTCOME.items() if k != "not_accepted"])),
    "complaints": (VALID, COMPLAINT),
    "reports": (VALID, _is("report", 1)),
    "closed": (VALID, CLOSED),
    "open_new": (VALID, _is("status", 0)),
    "open_handling": (VALID, _is("status", 1)),
    "overdue": (VALID, _is("overdue", 1)),
    **_timed_sets("respond"),
    **_timed_sets("onsite"),
    **_timed_sets("feedback"),
    "with_outcome": (VALID, _is("outcome", *_OUTCOME.values())),
    **{name: (VALID, _is("outcome", value)) for name, value in _OUTCOME.items()},
    "mediation_ended": (VALID, _is("outcome", _OUTCOME["mediated"], _OUTCOME["failed"])),
    "rated": (VALID, CLOSED, _is("rated", 1)),
    "recovered": (VALID, _is("recovered", 1)),
    **{
        f"escalated_{rung}": (VALID, COMPLAINT, Cond("escalations", any_bits=bit))
        for rung, bit in RUNG_BIT.items()
    },
    **{
        f"decided_{stage}": (VALID, Cond("clocks", any_bits=bit << DECIDED_SHIFT))
        for stage, bit in STAGE_BIT.items()
    },
    **{f"late_{stage}": (VALID, Cond("clocks", any_bits=bit)) for stage, bit in STAGE_BIT.items()},
    **{
        f"ontime_{stage}": (VALID, Cond("clocks", any_bits=bit << DECIDED_SHIFT, no_bits=bit))
        for stage, bit in STAGE_BIT.items()
    },
    "late_any": (VALID, Cond("clocks", any_bits=ALL_LATE)),
    "closed_late": (VALID, CLOSED, Cond("clocks", any_bits=ALL_LATE)),
    "closed_on_time": (VALID, CLOSED, Cond("clocks", no_bits=ALL_LATE)),
    "extended": (VALID, Cond("clocks", any_bits=EXTENDED_BIT)),
}
# The pre-aggregated tables have one column per set (portal/models/facts.py).
assert tuple(SETS) == SET_COLUMNS, "portal.models.facts.SET_COLUMNS must list every set"


def add_sets(
    counts: MutableMapping[str, int],
    packed: int,
    clocks: int,
    escalations: int,
    n: int,
    score: int,
    money: int,
) -> None:
    """Add n cases with these facts (and their summed score and money) to every set they are in.

    Recount and pre-aggregation both count through here, so they cannot disagree.
    """
    sets = members_of(packed, clocks, escalations)
    for name in sets:
        counts[name] = counts.get(name, 0) + n
    if "rated" in sets:
        counts["satisfaction_sum"] = counts.get("satisfaction_sum", 0) + score
    if "valid" in sets:
        counts["recovered_fen"] = counts.get("recovered_fen", 0) + money


def members(facts: Mapping[str, int]) -> list[str]:
    """Return the sets a case with these facts belongs to."""
    return [key for key, conds in SETS.items() if all(cond.holds(facts) for cond in conds)]


@lru_cache(maxsize=65536)
def members_of(packed: int, clocks: int, escalations: int) -> tuple[str, ...]:
    """Return the sets of a signature and masks (a pure function, so remembered)."""
    return tuple(members({**unpack(packed), "clocks": clocks, "escalations": escalations}))


def stored_set(key: str, packed: Any, clocks: Any, escalations: Any) -> ColumnElement[bool]:
    """Return the SQL condition of one set on stored facts (for recounting the day tables)."""
    conds = SETS[key]
    return and_(*[cond.on_stored(packed, clocks, escalations) for cond in conds]) if conds else true()


def case_set(key: str, ctx: MetricContext) -> ColumnElement[bool]:
    """Return the SQL condition of one set, for listing the cases behind a figure."""
    conds = SETS[key]
    return and_(*[cond.sql(ctx) for cond in conds]) if conds else true()


# What each set is called where its cases are listed.
SET_LABELS: dict[str, Any] = {
    "received": _l("Received"),
    "hidden": _l("Hidden"),
    "valid": _l("Valid (not hidden)"),
    "accepted": _l("Accepted"),
    "complaints": _l("Complaints"),
    "reports": _l("Reports"),
    "closed": _l("Closed"),
    "open_new": _l("Open: new (black)"),
    "open_handling": _l("Open: being handled (red)"),
    "overdue": _l("Open and overdue now"),
    "respond_due": _l("Respond clock decided"),
    "respond_on_time": _l("Responded in time"),
    "respond_late": _l("Responded late or not at all"),
    "onsite_due": _l("On-site clock decided"),
    "onsite_on_time": _l("On site in time"),
    "onsite_late": _l("On site late or not at all"),
    "feedback_due": _l("Feedback clock decided"),
    "feedback_on_time": _l("Feedback in time"),
    "feedback_late": _l("Feedback late or not at all"),
    "with_outcome": _l("With an outcome"),
    "self_settled": _l("Settled by the merchant"),
    "mediated": _l("Mediated"),
    "failed": _l("Mediation failed"),
    "not_accepted": _l("Not accepted"),
    "mediation_ended": _l("Mediation ended"),
    "rated": _l("Rated by the shopper"),
    "recovered": _l("Money recovered"),
    "escalated_station": _l("Escalated to the station"),
    "escalated_regulator": _l("Escalated to the regulator"),
    "late_any": _l("Late at some stage"),
    "closed_late": _l("Closed after a missed deadline"),
    "closed_on_time": _l("Closed on time"),
    "extended": _l("Verification extended"),
}
STAGE_LABELS: dict[str, Any] = {
    "respond": _l("First response"),
    "onsite": _l("On site"),
    "feedback": _l("Feedback"),
    "tell_return": _l("Telling of a return"),
    "accept": _l("Decision to accept"),
    "mediation": _l("Mediation"),
    "termination_notice": _l("Notice that mediation ended"),
    "verify": _l("Verifying a report"),
}
for _stage, _label in STAGE_LABELS.items():
    SET_LABELS[f"decided_{_stage}"] = _l("%(stage)s: clock decided", stage=_label)
    SET_LABELS[f"ontime_{_stage}"] = _l("%(stage)s: on time", stage=_label)
    SET_LABELS[f"late_{_stage}"] = _l("%(stage)s: late", stage=_label)
