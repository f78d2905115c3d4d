"""The sweep's notifications: per batch, one digest for each recipient instead of one message per card.

A station whose robot hears of forty cards in one sweep wants one message listing them, not
forty (a WeCom group robot takes 20 messages a minute). Every card and escalation is still
its own event, and the digest names each case and what happened to it. The digest is written
in the batch's transaction, together with the cards it lists: a sweep killed before its
commit leaves neither, and the rerun lists only the cards it issues itself. A recipient with a
single event in the batch gets the ordinary notice of that event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table
from sqlalchemy.orm import Session

from portal import bulk
from portal.models import Delivery
from portal.notify_batch import BATCH_KEY, Batch, BatchEvent, delivery_row
from portal.notify_messages import (
    Notice,
    NoticeWords,
    case_notice,
    markdown_line,
    notice_words,
    staff_language,
    stage_text,
)

# WeCom's markdown content holds 4,096 bytes, the least of the robots: a longer digest is
# split, keeping room for its subject line and link.
DIGEST_BYTES = 3_600


def summary(words: NoticeWords, event: BatchEvent) -> str:
    """Say in one line what happened to the case: the card or escalation, its clock, the shop."""
    data = event.data or {}
    parts = [words.headlines.get(event.kind, words.generic)]
    stage = data.get("stage") or event.complaint.stage
    if stage:
        due = data.get("due_at")
        due_at = datetime.fromisoformat(due) if isinstance(due, str) else event.complaint.stage_due_at
        parts.append(stage_text(words, stage, due_at))
    if data.get("to_name"):
        parts.append(f"→ {data['to_name']}")
    if event.complaint.merchant is not None:
        parts.append(event.complaint.merchant.name)
    if data.get("late"):
        parts.append(words.late)
    return " · ".join(parts)


Line = tuple[tuple[str, str], int]  # (case number, summary) and its size in a markdown message


def digests(
    events: Sequence[BatchEvent], base_url: str, lines: dict[int, Line]
) -> list[tuple[Notice, int | None]]:
    """Return one recipient's notices for the batch, each with its case (None for a digest).

    `lines` keeps each event's line across recipients (an event goes to several), by id.
    """
    if len(events) == 1:
        return [(case_notice(events[0].complaint, events[0].kind, base_url), events[0].complaint.id)]
    words = notice_words()
    parts: list[list[tuple[str, str]]] = [[]]
    used = 0
    for event in events:
        if id(event) not in lines:
            field = (event.complaint.case_number, summary(words, event))
            lines[id(event)] = (field, len(markdown_line(*field).encode()) + 1)
        field, size = lines[id(event)]
        if parts[-1] and used + size > DIGEST_BYTES:
            parts.append([])
            used = 0
        parts[-1].append(field)
        used += size
    link = f"{base_url.rstrip('/')}/office/"
    notices: list[tuple[Notice, int | None]] = []
    for number, fields in enumerate(parts, 1):
        subject = words.digest % {"count": len(fields)}
        if len(parts) > 1:
            subject += f" ({number}/{len(parts)})"
        notices.append((Notice(subject[:200], tuple(fields), link), None))
    return notices


def write_digests(session: Session) -> None:
    """Insert the batch's deliveries, one digest per recipient (split to fit), in one statement."""
    batch: Batch | None = session.info.get(BATCH_KEY)
    if batch is None or not batch.events or batch.now is None:
        return
    config = current_app.config
    rows: list[dict[str, Any]] = []
    lines: dict[int, Line] = {}
    with staff_language(config["BABEL_DEFAULT_LOCALE"]):
        for recipient, events in batch.events.items():
            for notice, complaint_id in digests(events, config["BASE_URL"], lines):
                rows.append(delivery_row(notice, recipient, batch.now, complaint_id))
    bulk.insert_rows(session, cast(Table, Delivery.__table__), rows)
    batch.events = {}
