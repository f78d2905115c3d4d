"""Notification channels in the back office: stations manage their market's, regulators their units'."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from merchants.access import current_staff, get_market_or_404, market_scope, roles, unit_subtree
from merchants.blueprint import bp
from portal.db import get_session, utcnow
from portal.models import Delivery, Market, NotificationChannel, RegulatorUnit, User
from portal.notify import request_send, send_check
from portal.notify_channels import add_channel, channel_health, masked_target, requeue_dead, set_active
from portal.notify_send import InvalidTargetError, SendSettings

MANAGERS = ("station", "regulator", "admin")
KIND_LABELS = {
    "email": _l("Email"),
    "wecom": _l("WeCom group robot"),
    "dingtalk": _l("DingTalk group robot"),
    "feishu": _l("Feishu group bot"),
}


class ChannelForm(FlaskForm):
    """A new channel: whose it is, which platform, where it points."""

    # The choice is checked by a scoped lookup (404 outside the user's scope), not by the list.
    owner = SelectField(_l("For"), validators=[DataRequired()], validate_choice=False)
    kind = SelectField(
        _l("Kind"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()], validators=[DataRequired()]
    )
    target = StringField(
        _l("Email address or robot webhook URL"), validators=[DataRequired(), Length(max=300)]
    )
    secret = StringField(
        _l("Signing secret (DingTalk, Feishu; optional)"), validators=[Optional(), Length(max=90)]
    )


def channel_scope(session: Session, user: User) -> ColumnElement[bool]:
    """Return the WHERE clause for the channels this user may see and manage."""
    if user.role == "admin":
        return true()
    if user.role == "station":
        return NotificationChannel.market_id == user.market_id
    if user.role == "regulator" and user.unit_id is not None:
        markets = select(Market.id).where(market_scope(session, user))
        return NotificationChannel.unit_id.in_(unit_subtree(session, user.unit_id)) | (
            NotificationChannel.market_id.in_(markets)
        )
    return NotificationChannel.id.is_(None)


@dataclass(frozen=True)
class FailingChannel:
    """An active channel whose last attempt failed, and how often its waiting messages failed."""

    channel: NotificationChannel
    failures: int


def failing_channels(session: Session, user: User) -> list[FailingChannel]:
    """Return the user's failing channels, oldest failure first (for the banner on the board)."""
    # Failed attempts of the messages not delivered yet: a retry queued by hand starts at 0.
    undelivered = (Delivery.channel_id == NotificationChannel.id) & (Delivery.status != "sent")
    rows = session.execute(
        select(NotificationChannel, func.coalesce(func.sum(Delivery.attempts), 0))
        .outerjoin(Delivery, undelivered)
        .where(
            channel_scope(session, user),
            NotificationChannel.active.is_(True),
            NotificationChannel.failing_since.is_not(None),
        )
        .group_by(NotificationChannel.id)
        .order_by(NotificationChannel.failing_since, NotificationChannel.id)
    ).all()
    return [FailingChannel(channel, int(failures)) for channel, failures in rows]


def channel_name(channel: NotificationChannel) -> str:
    """Name a channel for staff: its kind and where it points, without its key."""
    return f"{KIND_LABELS[channel.kind]} {masked_target(channel)}"


def get_channel_or_404(session: Session, user: User, channel_id: int) -> NotificationChannel:
    """Return a channel in the user's scope; anything else is a 404."""
    channel = session.scalars(
        select(NotificationChannel).where(NotificationChannel.id == channel_id, channel_scope(session, user))
    ).first()
    if channel is None:
        abort(404)
    return channel


def owner_choices(session: Session, user: User) -> list[SelectChoice]:
    """Return the markets and units the user may add channels for, as 'market:ID' / 'unit:ID'."""
    markets = session.execute(
        select(Market.id, Market.name).where(market_scope(session, user)).order_by(Market.name).limit(500)
    ).all()
    choices = [
        SelectChoice(f"market:{mid}", _("%(market)s · rights station", market=name)) for mid, name in markets
    ]
    if user.role in ("regulator", "admin"):
        units = select(RegulatorUnit.id, RegulatorUnit.name).order_by(RegulatorUnit.name).limit(500)
        if user.role == "regulator" and user.unit_id is not None:
            units = units.where(RegulatorUnit.id.in_(unit_subtree(session, user.unit_id)))
        choices += [SelectChoice(f"unit:{uid}", name) for uid, name in session.execute(units)]
    return choices


def owner_from_choice(session: Session, user: User, choice: str) -> tuple[int | None, int | None]:
    """Turn 'market:ID' or 'unit:ID' into (market_id, unit_id); outside the user's scope is a 404."""
    kind, _sep, raw = choice.partition(":")
    if kind == "market" and raw.isdigit():
        return get_market_or_404(session, user, int(raw)).id, None
    if kind == "unit" and raw.isdigit() and user.role in ("regulator", "admin"):
        unit = session.get(RegulatorUnit, int(raw))
        inside = user.role == "admin" or (
            user.unit_id is not None and int(raw) in unit_subtree(session, user.unit_id)
        )
        if unit is not None and inside:
            return None, unit.id
    abort(404)


def _owner_names(session: Session, channels: list[NotificationChannel]) -> dict[int, str]:
    """Name the market or unit of each channel."""
    market_ids = {c.market_id for c in channels if c.market_id}
    unit_ids = {c.unit_id for c in channels if c.unit_id}
    markets = {
        row_id: name
        for row_id, name in session.execute(select(Market.id, Market.name).where(Market.id.in_(market_ids)))
    }
    units = {
        row_id: name
        for row_id, name in session.execute(
            select(RegulatorUnit.id, RegulatorUnit.name).where(RegulatorUnit.id.in_(unit_ids))
        )
    }
    return {c.id: markets.get(c.market_id or 0) or units.get(c.unit_id or 0, "") for c in channels}


@bp.get("/channels")
@roles(*MANAGERS)
def channels() -> str:
    """List the channels with their health: failing since, last error, pending and dead."""
    session, user = get_session(), current_staff()
    rows = channel_health(session, channel_scope(session, user))
    return render_template(
        "office/channels.html",
        rows=rows,
        owners=_owner_names(session, [r.channel for r in rows]),
        masked=masked_target,
        kinds=KIND_LABELS,
    )


def _new_form(session: Session, user: User) -> ChannelForm:
    form = ChannelForm()
    form.owner.choices = owner_choices(session, user)
    return form


@bp.route("/channels/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def channel_new() -> Response | str | tuple[str, int]:
    """Add an email address or a group robot for a market or unit in scope."""
    session, user = get_session(), current_staff()
    form = _new_form(session, user)
    if form.validate_on_submit():
        market_id, unit_id = owner_from_choice(session, user, form.owner.data or "")
        target = (form.target.data or "").strip()
        if form.secret.data and form.kind.data in ("dingtalk", "feishu"):
            target = f"{target}|{form.secret.data.strip()}"
        try:
            add_channel(
                session,
                kind=form.kind.data or "",
                target=target,
                market_id=market_id,
                unit_id=unit_id,
                settings=SendSettings.from_config(current_app.config),
                now=utcnow(),
            )
        except InvalidTargetError as exc:
            session.rollback()
            form.target.errors = [_("This address cannot be used: %(reason)s", reason=str(exc))]
        else:
            session.commit()
            flash(_("Channel added. Send a test message to check it."), "ok")
            return redirect(url_for("office.channels"), code=303)
    page = render_template("office/channels_new.html", form=form)
    return (page, 400) if form.is_submitted() else page


@bp.post("/channels/<int:channel_id>/test")
@roles(*MANAGERS)
def channel_test(channel_id: int) -> Response:
    """Send a test message now and show whether it arrived."""
    session = get_session()
    channel = get_channel_or_404(session, current_staff(), channel_id)
    error = send_check(session, channel, utcnow())
    session.commit()
    if error:
        flash(_("The test message failed: %(error)s", error=error), "error")
    else:
        flash(_("Test message sent. Check that it arrived."), "ok")
    return redirect(url_for("office.channels"), code=303)


@bp.post("/channels/<int:channel_id>/switch")
@roles(*MANAGERS)
def channel_switch(channel_id: int) -> Response:
    """Switch a channel off, or on again."""
    session = get_session()
    channel = get_channel_or_404(session, current_staff(), channel_id)
    set_active(session, channel, not channel.active)
    session.commit()
    flash(_("Channel switched on.") if channel.active else _("Channel switched off."), "ok")
    return redirect(url_for("office.channels"), code=303)


@bp.post("/channels/<int:channel_id>/retry")
@roles(*MANAGERS)
def channel_retry(channel_id: int) -> Response:
    """Queue a channel's undelivered messages again, after the station fixed the robot."""
    session = get_session()
    channel = get_channel_or_404(session, current_staff(), channel_id)
    count = requeue_dead(session, channel, utcnow())
    session.commit()
    request_send()
    flash(_("%(count)d messages queued again.", count=count), "ok")
    return redirect(url_for("office.channels"), code=303)
