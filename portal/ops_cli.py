"""`kuaisu backup` and `kuaisu restore`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.backup import BackupError, backup, restore
from portal.db import utcnow


@click.command("backup")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(out: Path) -> None:
    """Make a consistent online backup of the database and uploads into directory OUT."""
    config = current_app.config
    try:
        result = backup(config["DATABASE_URL"], config["UPLOAD_DIR"], out, utcnow())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = ", ".join(f"{k}={v}" for k, v in result.counts.items())
    click.echo(f"backup written to {result.path}: {counts or 'pg_dump'}; {result.uploads} upload files")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing database.")
@with_appcontext
def restore_command(source: Path, force: bool) -> None:
    """Restore a backup directory made by `kuaisu backup` (stop the portal first)."""
    config = current_app.config
    try:
        counts = restore(source, config["DATABASE_URL"], config["UPLOAD_DIR"], force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("restored: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
