"""`kuaisu photos process`: clean the photos kept as sent, for the timer beside the sweep."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.db import new_session, utcnow
from portal.photo_intake import photo_store
from portal.photo_worker import PhotoLimits, process_pending


@click.group("photos", cls=AppGroup)
def photos() -> None:
    """Photos sent with complaints."""


@photos.command("process")
@click.option("--limit", default=10_000, show_default=True, help="Most photos to clean in this run.")
def process_command(limit: int) -> None:
    """Clean pending photos (PHOTOS_IN_BACKGROUND) and show them; safe to run twice at once."""
    config = current_app.config
    limits = PhotoLimits(config["MAX_IMAGE_PIXELS"], config["MAX_PHOTO_BYTES"], config["PHONE_SALT"])
    run = process_pending(lambda: new_session(write=True), photo_store(), limits, utcnow(), limit)
    click.echo(run.summary())
