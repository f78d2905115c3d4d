"""The weekly summary: last week's figures for each unit, sent once to the unit's channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.dashboard import build_dashboard
from portal.facts_query import FactScope
from portal.i18n import SHANGHAI
from portal.metrics_query import Filters
from portal.models import Complaint, Delivery, NotificationChannel, RegulatorUnit, WeeklySummary
from portal.notify_messages import Notice, render_body


@dataclass(frozen=True)
class WeeklyResult:
    """What one run did for one unit."""

    unit_id: int
    unit_name: str
    week_start: date
    deliveries: int
    already_sent: bool


def last_week(now: datetime) -> date:
    """Return the Monday of the last whole Shanghai week before now."""
    today = now.astimezone(SHANGHAI).date()
    return today - timedelta(days=today.weekday() + 7)


def subtrees(session: Session) -> dict[int, list[int]]:
    """Return every unit's id list of itself and the units beneath it."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in session.execute(select(RegulatorUnit.id, RegulatorUnit.parent_id)):
        children.setdefault(parent, []).append(uid)
    found: dict[int, list[int]] = {}
    for uid in [u for kids in children.values() for u in kids]:
        members, frontier = [uid], [uid]
        while frontier:
            frontier = [kid for f in frontier for kid in children.get(f, [])]
            members.extend(frontier)
        found[uid] = members
    return found


def summary_notice(
    session: Session, unit: RegulatorUnit, members: list[int], week_start: date, now: datetime, base_url: str
) -> Notice:
    """Describe the unit's week without personal data: counts, rates and a dashboard link."""
    filters = Filters(start=week_start, end=week_start + timedelta(days=6))
    scope = Complaint.unit_id.in_(members)
    board = build_dashboard(session, scope, filters, now, facts=FactScope(units=tuple(members)))
    c, rates = board.counts, {rate.key: value for rate, value in board.rates}
    fields = (
        (_("Received"), str(c.get("received", 0))),
        (_("Closed"), str(c.get("closed", 0))),
        (_("Closure rate"), rates["closure"].percent()),
        (_("Responded in time"), rates["respond"].percent()),
        (_("Feedback within 24 hours"), rates["feedback"].percent()),
        (_("Open and overdue now"), str(c.get("overdue", 0))),
        (_("Self-settlement rate"), rates["self_settled"].percent()),
        (_("Money recovered (yuan)"), board.recovered_yuan),
    )
    query = "&".join(f"{k}={v}" for k, v in {**filters.as_args(), "unit": unit.id}.items())
    # Babel cannot find a msgid inside an f-string, so the words are looked up first.
    brand, title = _("Kuaisu"), _("Weekly summary")
    subject = f"[{brand}] {title} {filters.start:%m-%d}—{filters.end:%m-%d} {unit.name}"
    return Notice(subject[:200], fields, f"{base_url.rstrip('/')}/office/insight?{query}")


def send_weekly(session: Session, now: datetime, base_url: str) -> list[WeeklyResult]:
    """Queue last week's summary for every unit with a channel; a unit+week goes out once."""
    week_start = last_week(now)
    members = subtrees(session)
    channels: dict[int, list[NotificationChannel]] = {}
    for channel in session.scalars(
        select(NotificationChannel)
        .where(NotificationChannel.unit_id.is_not(None), NotificationChannel.active.is_(True))
        .order_by(NotificationChannel.id)
    ):
        assert channel.unit_id is not None
        channels.setdefault(channel.unit_id, []).append(channel)
    # Cheap enough for the every-minute timer: a sent week costs one indexed read.
    sent = set(session.scalars(select(WeeklySummary.unit_id).where(WeeklySummary.week_start == week_start)))
    results = []
    for unit_id, targets in sorted(channels.items()):
        unit = session.get(RegulatorUnit, unit_id)
        assert unit is not None
        if unit_id in sent:
            results.append(WeeklyResult(unit_id, unit.name, week_start, 0, already_sent=True))
            continue
        try:
            # The unique (unit, week) row is the claim: a second run, or a racing one, stops here.
            with session.begin_nested():
                session.add(
                    WeeklySummary(
                        unit_id=unit_id, week_start=week_start, channels=len(targets), created_at=now
                    )
                )
        except IntegrityError:
            results.append(WeeklyResult(unit_id, unit.name, week_start, 0, already_sent=True))
            continue
        notice = summary_notice(session, unit, members.get(unit_id, [unit_id]), week_start, now, base_url)
        session.add_all(
            Delivery(
                channel_id=t.id,
                subject=notice.subject,
                body=render_body(notice, t.kind),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for t in targets
        )
        session.flush()
        results.append(WeeklyResult(unit_id, unit.name, week_start, len(targets), already_sent=False))
    return results
