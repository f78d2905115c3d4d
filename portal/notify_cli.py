"""`kuaisu notify`: the periodic sending pass and a channel check, for timers and operators."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from portal.db import new_session, utcnow
from portal.models import NotificationChannel
from portal.notify import send_check
from portal.notify_outbox import RetryPolicy, send_pass
from portal.notify_send import SendSettings


def _parse_now(value: str | None) -> datetime:
    """Read --now as ISO 8601 (UTC when no offset is given); default to the clock."""
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group(cls=AppGroup)
def notify() -> None:
    """Notifications: send what is due, check a channel."""


@notify.command("send")
@click.option("--now", "now_text", default=None, help="Act as if it were this time (ISO 8601).")
@click.option("--limit", default=200, show_default=True, help="Most deliveries in this pass.")
def notify_send(now_text: str | None, limit: int) -> None:
    """Send every due delivery once; failures back off, the last failure marks it dead."""
    config = current_app.config
    result = send_pass(
        SendSettings.from_config(config), RetryPolicy.from_config(config), _parse_now(now_text), limit
    )
    click.echo(
        f"claimed {result.claimed}, sent {result.sent}, retrying {result.retrying}, dead {result.dead}"
    )


@notify.command("test")
@click.argument("channel_id", type=int)
def notify_test(channel_id: int) -> None:
    """Send a test message to CHANNEL_ID now and record the channel's health."""
    with new_session(write=True) as session:
        channel = session.get(NotificationChannel, channel_id)
        if channel is None:
            raise click.ClickException(f"no channel {channel_id}")
        error = send_check(session, channel, utcnow())
        session.commit()
    if error:
        raise click.ClickException(f"channel {channel_id} failed: {error}")
    click.echo(f"channel {channel_id}: test message sent")
