"""`kuaisu signals reflag`: recount the stored repeat-phone flags."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.db import new_session


@click.group()
def signals() -> None:
    """The abuse and duplicate signals staff weigh (never acted on by themselves)."""


@signals.command("reflag")
@with_appcontext
def signals_reflag() -> None:
    """Recount every case's repeat-phone flag (after the upgrade or a change of the threshold or window)."""
    from portal.repeat_flags import reflag_all
    from portal.signals import SignalPolicy

    policy = SignalPolicy.from_config(current_app.config)
    with new_session(write=True) as session:
        flagged, added, cleared = reflag_all(session, policy)
        session.commit()
    click.echo(
        f"{flagged} cases flagged ({policy.repeat_threshold} from one number within "
        f"{policy.repeat_window.days} days): {added} newly, {cleared} cleared"
    )
