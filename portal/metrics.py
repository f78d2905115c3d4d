"""The rates regulators are judged on: each one is a function whose docstring is its formula.

Every rate divides one case set by another (portal.metric_sets defines the sets); an empty
denominator is "no data" (shown as —), never a division by zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Rate:
    """A share with its parts; `value` is None when nothing was measured ("no data")."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """Return numerator ÷ denominator, or None for an empty denominator."""
        return None if self.denominator == 0 else self.numerator / self.denominator

    def percent(self) -> str:
        """Return '87.5%' or '—' when there is no data."""
        value = self.value
        return "—" if value is None else f"{value * 100:.1f}%"


Counts = Mapping[str, int]


def _rate(counts: Counts, numerator: str, denominator: str) -> Rate:
    return Rate(counts.get(numerator, 0), counts.get(denominator, 0))


def closure_rate(c: Counts) -> Rate:
    """办结率 = closed ÷ valid received (received − hidden)."""
    return _rate(c, "closed", "valid")


def respond_rate(c: Counts) -> Rate:
    """Respond rate = answered within respond_minutes (45) ÷ answered or past the limit."""
    return _rate(c, "respond_on_time", "respond_due")


def onsite_rate(c: Counts) -> Rate:
    """On-site rate = on-site cases reached within onsite_minutes (90) ÷ reached or past it."""
    return _rate(c, "onsite_on_time", "onsite_due")


def feedback_rate(c: Counts) -> Rate:
    """24 h feedback rate = proposal/outcome within feedback_minutes ÷ given one or past it."""
    return _rate(c, "feedback_on_time", "feedback_due")


def on_time_closure_rate(c: Counts) -> Rate:
    """On-time closure rate = closed cases with no late stage clock ÷ closed cases."""
    return _rate(c, "closed_on_time", "closed")


def escalation_rate(c: Counts, rung: str) -> Rate:
    """Escalation rate at a rung = complaints escalated to that rung ÷ valid complaints."""
    return _rate(c, f"escalated_{rung}", "complaints")


def self_settlement_rate(c: Counts) -> Rate:
    """自行和解率 = cases settled by the merchant itself ÷ cases with an outcome."""
    return _rate(c, "self_settled", "with_outcome")


def mediation_success_rate(c: Counts) -> Rate:
    """Mediation success rate = mediated ÷ (mediated + failed)."""
    return _rate(c, "mediated", "mediation_ended")


def rated_share(c: Counts) -> Rate:
    """Share rated = closed cases the shopper rated ÷ closed cases."""
    return _rate(c, "rated", "closed")


def stage_on_time_rate(c: Counts, stage: str) -> Rate:
    """On-time rate of a stage = cases whose clocks of it all met the deadline ÷ cases with a
    decided clock of it (stopped, or past due); clocks at every rung count."""
    return _rate(c, f"ontime_{stage}", f"decided_{stage}")


def average_satisfaction(c: Counts) -> float | None:
    """Average satisfaction = sum of scores (1–5) ÷ rated closed cases; None if none rated."""
    rated = c.get("rated", 0)
    return None if rated == 0 else c.get("satisfaction_sum", 0) / rated


@dataclass(frozen=True)
class RateDef:
    """A rate as the page shows it: label, footnote formula, the sets behind it."""

    key: str
    label: Any
    formula: Any
    numerator: str
    denominator: str
    compute: Callable[[Counts], Rate]


RATES: tuple[RateDef, ...] = (
    RateDef(
        "closure", _l("Closure rate"), _l("closed ÷ (received − hidden)"), "closed", "valid", closure_rate
    ),
    RateDef(
        "respond",
        _l("Responded in time"),
        _l(
            "complaints answered within the respond limit (45 min) ÷ complaints whose limit "
            "has passed or that were answered"
        ),
        "respond_on_time",
        "respond_due",
        respond_rate,
    ),
    RateDef(
        "onsite",
        _l("On site in time"),
        _l(
            "on-site complaints reached within the on-site limit (90 min) ÷ on-site "
            "complaints whose limit has passed or that were reached"
        ),
        "onsite_on_time",
        "onsite_due",
        onsite_rate,
    ),
    RateDef(
        "feedback",
        _l("Feedback within 24 hours"),
        _l(
            "complaints given a proposal or outcome within the feedback limit (24 h) ÷ "
            "complaints whose limit has passed or that got one"
        ),
        "feedback_on_time",
        "feedback_due",
        feedback_rate,
    ),
    RateDef(
        "closed_on_time",
        _l("Closed on time"),
        _l("closed cases none of whose stage clocks missed its deadline ÷ closed cases"),
        "closed_on_time",
        "closed",
        on_time_closure_rate,
    ),
    RateDef(
        "escalated_station",
        _l("Escalated to the station"),
        _l("complaints escalated to the rights station ÷ valid complaints"),
        "escalated_station",
        "complaints",
        lambda c: escalation_rate(c, "station"),
    ),
    RateDef(
        "escalated_regulator",
        _l("Escalated to the regulator"),
        _l("complaints escalated to the market-supervision office ÷ valid complaints"),
        "escalated_regulator",
        "complaints",
        lambda c: escalation_rate(c, "regulator"),
    ),
    RateDef(
        "self_settled",
        _l("Self-settlement rate"),
        _l("settled by the merchant itself ÷ cases with an outcome"),
        "self_settled",
        "with_outcome",
        self_settlement_rate,
    ),
    RateDef(
        "mediated",
        _l("Mediation success rate"),
        _l("mediated ÷ (mediated + failed)"),
        "mediated",
        "mediation_ended",
        mediation_success_rate,
    ),
    RateDef(
        "rated",
        _l("Share rated"),
        _l("closed cases the shopper rated ÷ closed cases"),
        "rated",
        "closed",
        rated_share,
    ),
)
RATE_BY_KEY = {rate.key: rate for rate in RATES}
