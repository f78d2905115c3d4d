"""How the board and a case's page word a card for staff: stage, time left, age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, g
from flask_babel import lazy_gettext as _l

from portal.categories import CATEGORIES
from portal.closing import OUTCOME_LABELS, outcome_label, yuan
from portal.forms import WISHES
from portal.models import Complaint
from portal.phones import mask

# A board page words sixty cards; each is looked up once per request, not per card
# (one Flask-Babel lookup costs tens of microseconds).
_WORDS = {
    "report": _l("Report"),
    "hidden": _l("Hidden"),
    "merged": _l("Merged"),
    "repeat": _l("Repeat number"),
    "arrived": _l("Arrived %(age)s ago"),
    "taken_by": _l("Taken by %(name)s"),
    "not_taken": _l("Not taken yet"),
    "left": _l("%(t)s left"),
    "overdue": _l("overdue by %(t)s"),
    "min": _l("%(n)d min"),
    "hm": _l("%(h)d h %(m)d min"),
    "days": _l("%(d)d days"),
    "stage:": _l("No clock"),
    "stage:respond": _l("Reply"),
    "stage:onsite": _l("On site"),
    "stage:feedback": _l("Feedback"),
    "stage:accept": _l("Acceptance"),
    "stage:mediation": _l("Mediation"),
    "stage:verify": _l("Verification"),
    "stage:return": _l("Return"),
    "stage:tell_return": _l("Tell of return"),
    "stage:termination_notice": _l("Termination notice"),
    **{f"cat:{code}": label for code, (_zh, label) in CATEGORIES.items()},
    **{f"out:{code}": label for code, label in OUTCOME_LABELS.items()},
}
_ROLES = {
    "shopper": _l("shopper"),
    "merchant": _l("merchant"),
    "station": _l("rights station"),
    "regulator": _l("regulator"),
    "admin": _l("admin"),
    "system": _l("system"),
}


@dataclass(frozen=True)
class Clock:
    """The stage a case is in and how long is left on its clock (negative: overdue)."""

    stage: str
    text: str
    overdue: bool


def words() -> dict[str, str]:
    """Return the card words in this request's language, translated once per request."""
    cached: dict[str, str] | None = g.get("kuaisu_card_words")
    if cached is None:
        cached = {key: str(text) for key, text in _WORDS.items()}
        g.kuaisu_card_words = cached
    return cached


def stage_name(stage: str | None) -> str:
    """Translate a stage code into the words staff use."""
    found = words()
    return found.get(f"stage:{stage or ''}", found["stage:"])


def category_name(code: str) -> str:
    """Translate a category code, or show the code itself if unknown."""
    return words().get(f"cat:{code}", code)


def span(minutes: int) -> str:
    """Format a length of time as minutes, hours or days."""
    found = words()
    if minutes < 60:
        return found["min"] % {"n": minutes}
    if minutes < 48 * 60:
        return found["hm"] % {"h": minutes // 60, "m": minutes % 60}
    return found["days"] % {"d": minutes // (24 * 60)}


def clock(complaint: Complaint, now: datetime) -> Clock:
    """Return the card's stage and time left, e.g. 回复 · 还剩 23 分钟."""
    if complaint.status == "closed" or complaint.stage_due_at is None:
        return Clock(stage_name(None), "", False)
    seconds = (complaint.stage_due_at - now).total_seconds()
    stage, found = stage_name(complaint.stage), words()
    if seconds >= 0:
        return Clock(stage, found["left"] % {"t": span(int(seconds // 60))}, False)
    return Clock(stage, found["overdue"] % {"t": span(int(-seconds // 60))}, True)


def age(complaint: Complaint, now: datetime) -> str:
    """Return how long ago the case arrived."""
    return span(max(0, int((now - complaint.created_at).total_seconds() // 60)))


def role_label(role: str) -> str:
    """Translate who acted on a case."""
    return str(_ROLES[role]) if role in _ROLES else role


def wish_label(code: str) -> str:
    """Translate what the shopper asked for."""
    return str(WISHES[code]) if code in WISHES else code


def init_app(app: Flask) -> None:
    """Offer the wording helpers to every template."""
    app.jinja_env.globals.update(
        card_words=words,
        card_clock=clock,
        card_age=age,
        stage_name=stage_name,
        outcome_label=outcome_label,
        yuan=yuan,
        category_label=category_name,
        masked_phone=mask,
        role_label=role_label,
        wish_label=wish_label,
    )
