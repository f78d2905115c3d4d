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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table
from sqlalchemy.orm import Session

from portal import bulk
from portal.models import Delivery
from portal.notify_batch import BATCH_KEY, Batch, BatchEvent, delivery_row
from portal.notify_messages import (
    MARKDOWN_KINDS,
    NoticeWords,
    assemble_body,
    case_notice,
    field_line,
    notice_words,
    render_body,
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
    if event.shop is not None:
        parts.append(event.shop)
    if data.get("late"):
        parts.append(words.late)
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One event's line in a digest, rendered once for all its recipients."""

    markdown: str
    plain: str
    size: int  # bytes in a markdown message, the larger rendering


def digest_line(words: NoticeWords, event: BatchEvent) -> DigestLine:
    """Render the event's line: its case number, then what happened."""
    label, value = event.complaint.case_number, summary(words, event)
    markdown = field_line(label, value, "wecom")
    return DigestLine(markdown, field_line(label, value, "email"), len(markdown.encode()) + 1)


def messages(
    events: Sequence[BatchEvent], channel_kind: str, base_url: str, lines: dict[int, DigestLine]
) -> list[tuple[str, str, int | None]]:
    """Return one recipient's (subject, body, case) for the batch; a digest belongs to no case.

    `lines` keeps each event's line across recipients (an event goes to several), by id.
    """
    if len(events) == 1:
        notice = case_notice(events[0].complaint, events[0].kind, base_url)
        return [(notice.subject, render_body(notice, channel_kind), events[0].complaint.id)]
    words = notice_words()
    parts: list[list[DigestLine]] = [[]]
    used = 0
    for event in events:
        line = lines.get(id(event))
        if line is None:
            line = lines[id(event)] = digest_line(words, event)
        if parts[-1] and used + line.size > DIGEST_BYTES:
            parts.append([])
            used = 0
        parts[-1].append(line)
        used += line.size
    link = f"{base_url.rstrip('/')}/office/"
    markdown = channel_kind in MARKDOWN_KINDS
    found: list[tuple[str, str, int | None]] = []
    for number, part in enumerate(parts, 1):
        subject = words.digest % {"count": len(part)}
        if len(parts) > 1:
            subject += f" ({number}/{len(parts)})"
        rendered = [line.markdown if markdown else line.plain for line in part]
        found.append((subject[:200], assemble_body(subject[:200], rendered, link, channel_kind), None))
    return found


def write_digests(session: Session) -> None:
    """Insert the batch's deliveries, one digest per recipient (split to fit), in one statement."""
    batch: Batch | None = session.info.get(BATCH_KEY)
    if batch is None or not batch.events or batch.now is None:
        return
    config = current_app.config
    rows: list[dict[str, Any]] = []
    lines: dict[int, DigestLine] = {}
    with staff_language(config["BABEL_DEFAULT_LOCALE"]):
        for recipient, events in batch.events.items():
            for subject, body, complaint_id in messages(events, recipient[0], config["BASE_URL"], lines):
                rows.append(delivery_row(subject, body, recipient, batch.now, complaint_id))
    bulk.insert_rows(session, cast(Table, Delivery.__table__), rows)
    batch.events = {}
