"""Notifications as an outbox: events become delivery rows in the case's own transaction.

A stored complaint therefore always has its deliveries and a rolled-back one has none;
sending happens later, outside the transaction, so no endpoint can block or lose a case
(issue 3: "delivery never blocks or loses a complaint"). After a web request commits, a
background thread runs one sending pass; `kuaisu notify send` on a timer retries the rest.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context
from flask_babel import force_locale
from sqlalchemy import Select, bindparam, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from portal import audit
from portal.audit import ChainedEvent
from portal.db import begin_write, utcnow
from portal.models import Complaint, Delivery, NotificationChannel, User
from portal.notify_batch import BATCH_KEY, Batch, BatchEvent, RecipientKey, delivery_row, prefetch
from portal.notify_digest import write_digests
from portal.notify_messages import case_notice, check_notice, render_body, staff_language
from portal.notify_outbox import RetryPolicy, mark_channel_health, send_pass
from portal.notify_send import SendError, SendSettings, send_message

log = logging.getLogger("kuaisu.notify")
EXTENSION = "kuaisu.notify"
_KICK = "kuaisu.notify_kick"


class Recipient(StrEnum):
    """Who hears of an event."""

    MERCHANT_STAFF = "merchant_staff"  # every active merchant account of the shop with an email
    RESPONSIBLE = "responsible"  # the assignee, if they have an email; otherwise the merchant staff
    HOME_CHANNELS = "home_channels"  # the market's channels; standalone shop or report: the unit's
    UNIT_CHANNELS = "unit_channels"  # the regulator unit's channels


_RESPONSIBLE = (Recipient.RESPONSIBLE, Recipient.HOME_CHANNELS)
# Event kind → recipients. Add a row to notify on a new kind; kinds not listed notify nobody.
NOTIFY: dict[str, tuple[Recipient, ...]] = {
    "submitted": (Recipient.MERCHANT_STAFF, Recipient.HOME_CHANNELS),
    "shopper_info": _RESPONSIBLE,
    "rejected": _RESPONSIBLE,
    "accepted": _RESPONSIBLE,
    "rated": _RESPONSIBLE,
    "reminder": _RESPONSIBLE,
    "urge": _RESPONSIBLE,
    "breach": _RESPONSIBLE,
    "escalated": (*_RESPONSIBLE, Recipient.UNIT_CHANNELS),
    "returned": _RESPONSIBLE,
    # A breach with no rung above is supervision (督办): the regulator unit hears of it too.
    "overdue": (*_RESPONSIBLE, Recipient.UNIT_CHANNELS),
}


def _active_channels(owner: Any) -> Select[NotificationChannel]:
    """Return the (prebuilt, asked on every complaint) query of an owner's active channels."""
    return (
        select(NotificationChannel)
        .where(owner == bindparam("owner"), NotificationChannel.active.is_(True))
        .order_by(NotificationChannel.id)
    )


_MARKET_CHANNELS = _active_channels(NotificationChannel.market_id)
_UNIT_CHANNELS = _active_channels(NotificationChannel.unit_id)


def _staff(session: Session, complaint: Complaint, who: Recipient) -> list[User]:
    """Return the staff accounts to email for this recipient kind."""
    batch: Batch | None = session.info.get(BATCH_KEY)
    if who == Recipient.RESPONSIBLE and complaint.assignee_id is not None:
        if batch is not None:
            assignee = batch.users.get(complaint.assignee_id)
        else:
            assignee = session.get(User, complaint.assignee_id)
        if assignee is not None and assignee.active and assignee.email:
            return [assignee]
    # Order 121: a reporter is kept confidential, so the merchant never hears of a report.
    if complaint.merchant_id is None or complaint.kind == "report":
        return []
    if batch is not None:
        return list(batch.shop_staff.get(complaint.merchant_id, []))
    return list(
        session.scalars(
            select(User)
            .where(
                User.role == "merchant",
                User.merchant_id == complaint.merchant_id,
                User.active.is_(True),
                User.email.is_not(None),
                User.email != "",
            )
            .order_by(User.id)
        )
    )


def _channels(session: Session, complaint: Complaint, who: Recipient) -> list[NotificationChannel]:
    """Return the active channels for this recipient kind."""
    home = who == Recipient.HOME_CHANNELS and complaint.market_id is not None and complaint.kind != "report"
    batch: Batch | None = session.info.get(BATCH_KEY)
    if batch is not None:
        if home and complaint.market_id is not None:
            return list(batch.market_channels.get(complaint.market_id, []))
        return list(batch.unit_channels.get(complaint.unit_id, []))
    if home:
        return list(session.scalars(_MARKET_CHANNELS, {"owner": complaint.market_id}))
    return list(session.scalars(_UNIT_CHANNELS, {"owner": complaint.unit_id}))


def recipients(
    session: Session, complaint: Complaint, kind: str, *, email: bool = True
) -> tuple[list[User], list[NotificationChannel]]:
    """Resolve an event kind to the staff (when email can go out) and channels, without duplicates."""
    users: dict[int, User] = {}
    channels: dict[int, NotificationChannel] = {}
    for who in NOTIFY.get(kind, ()):
        if who in (Recipient.MERCHANT_STAFF, Recipient.RESPONSIBLE):
            if email:
                users.update((u.id, u) for u in _staff(session, complaint, who))
        else:
            channels.update((c.id, c) for c in _channels(session, complaint, who))
    return list(users.values()), list(channels.values())


def enqueue_for_event(session: Session, complaint: Complaint, event: ChainedEvent, now: datetime) -> None:
    """Add the deliveries an event calls for, inside the caller's transaction (audit listener)."""
    if event.kind not in NOTIFY or complaint.hidden_at is not None:
        return
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return
    config = current_app.config
    # Without a mail server personal emails could never go out: staff are not even looked up.
    email = bool(config.get("SMTP_HOST"))
    batch: Batch | None = session.info.get(BATCH_KEY)
    if batch is not None:
        _keep_for_digest(session, batch, complaint, event, now, email=email)
        return
    users, channels = recipients(session, complaint, event.kind, email=email)
    if not users and not channels:
        return
    session.info[_KICK] = True
    with staff_language(config["BABEL_DEFAULT_LOCALE"]):
        notice = case_notice(complaint, event.kind, config["BASE_URL"])
        to: list[RecipientKey] = [("email", None, u.id) for u in users] + [
            (c.kind, c.id, None) for c in channels
        ]
        rows = [delivery_row(notice.subject, render_body(notice, r[0]), r, now, complaint.id) for r in to]
    # Added, not flushed: the caller's flush writes them with the event.
    session.add_all(Delivery(**row) for row in rows)


def _keep_for_digest(
    session: Session, batch: Batch, complaint: Complaint, event: ChainedEvent, now: datetime, *, email: bool
) -> None:
    """The sweep: keep the event for its recipients' digests (notify_digest.write_digests)."""
    # Who hears of an event depends on these alone (see recipients; the staff, by assignee and
    # shop, only when email can go out): thousands of events in a batch resolve a few times.
    key: tuple[object, ...] = (event.kind, complaint.kind, complaint.market_id, complaint.unit_id)
    if email:
        key += (complaint.assignee_id, complaint.merchant_id)
    found = batch.recipients.get(key)
    if found is None:
        users, channels = recipients(session, complaint, event.kind, email=email)
        found = [("email", None, u.id) for u in users] + [(c.kind, c.id, None) for c in channels]
        batch.recipients[key] = found
    if found:
        shop = batch.shop_names.get(complaint.merchant_id or 0)
        batch.add(BatchEvent(complaint, event.kind, event.data, shop), found, now)
        session.info[_KICK] = True


def send_check(session: Session, channel: NotificationChannel, now: datetime) -> str | None:
    """Send a test message to a channel now; record its health; return the error, if any."""
    config = current_app.config
    kind, target, channel_id = channel.kind, channel.target, channel.id
    with force_locale(config["BABEL_DEFAULT_LOCALE"]):
        notice = check_notice(config["BASE_URL"])
        body = render_body(notice, kind)
    # End the transaction first: SQLite's write lock must not wait on a slow robot (PITFALLS).
    session.commit()
    try:
        send_message(kind, target, notice.subject, body, SendSettings.from_config(config), now)
        error = None
    except SendError as exc:
        error = str(exc)
    begin_write(session)
    fresh = session.get(NotificationChannel, channel_id)
    if fresh is not None:
        mark_channel_health(fresh, error, now)
    session.flush()
    return error


class Kicker:
    """One background sender per worker process; kicks while it runs coalesce into one more pass."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._again = False
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        """Ask for a sending pass soon, without waiting for it."""
        with self._lock:
            self._again = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kuaisu-notify", daemon=True)
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the background sender has nothing left to do (tests, shutdown)."""
        while (thread := self._thread) is not None:
            thread.join(timeout)
            if thread.is_alive():
                return

    def _run(self) -> None:
        """Run passes until no kick arrived during the last one."""
        while True:
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
            try:
                with self.app.app_context():
                    config = self.app.config
                    send_pass(SendSettings.from_config(config), RetryPolicy.from_config(config), utcnow())
            except Exception:  # a background pass must never die loudly; the timer retries
                log.exception("background notification pass failed")


def kicker(app: Flask) -> Kicker:
    """Return the app's background sender."""
    found: Kicker = app.extensions[EXTENSION]
    return found


def request_send() -> None:
    """Ask this worker's background sender for a pass now, unless NOTIFY_KICK is off."""
    if current_app.config["NOTIFY_KICK"]:
        kicker(current_app._get_current_object()).kick()  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Register the outbox listener and the after-commit kick for this app."""
    if enqueue_for_event not in audit.EVENT_LISTENERS:
        audit.EVENT_LISTENERS.append(enqueue_for_event)
    app.config.setdefault("NOTIFY_KICK", True)
    app.extensions[EXTENSION] = Kicker(app)
    factory = app.extensions["kuaisu.sessionmaker"]

    def _after_commit(session: Session) -> None:
        session.info.pop(BATCH_KEY, None)
        if session.info.pop(_KICK, False) and has_request_context():
            request_send()

    def _after_rollback(session: Session) -> None:
        session.info.pop(BATCH_KEY, None)
        session.info.pop(_KICK, None)

    sa_event.listen(factory, "after_commit", _after_commit)
    sa_event.listen(factory, "after_rollback", _after_rollback)


# The clock sweep asks each audit listener that offers it to read ahead for a batch, and to
# write what it kept for the batch (one digest per recipient).
enqueue_for_event.prefetch = prefetch  # type: ignore[attr-defined]
enqueue_for_event.write = write_digests  # type: ignore[attr-defined]
