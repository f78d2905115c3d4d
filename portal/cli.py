"""The `kuaisu` command: a FlaskGroup over the app factory; every command hangs off it."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import FlaskGroup

from portal import create_app
from portal import migrate as migrations
from portal.db import new_session


@click.group(cls=FlaskGroup, create_app=create_app)
def cli() -> None:
    """Kuaisu 快诉: scan-to-complain portal."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    migrations.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION."""
    migrations.downgrade(current_app.config["DATABASE_URL"], revision)


@cli.command("demo")
def demo() -> None:
    """Load believable demo data (idempotent) and print poster URLs and logins."""
    from portal.demo import load_demo, print_demo

    with new_session(write=True) as session:
        summary = load_demo(session, current_app.config["BASE_URL"])
        session.commit()
        print_demo(session, summary, current_app.config["BASE_URL"])


@cli.group()
def merchants() -> None:
    """Merchants, markets and their poster codes."""


@merchants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def merchants_list(as_json: bool) -> None:
    """List every merchant and market poster with its code and URL."""
    from portal.directory import poster_listing

    with new_session() as session:
        rows = poster_listing(session, current_app.config["BASE_URL"])
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['kind']:8} {row['id']:>5}  {row['poster_url']}  {row['name']}")


def _register_translate() -> None:
    """Attach `kuaisu translate`."""
    from portal.translate import translate

    cli.add_command(translate)


_register_translate()


def _register_ops() -> None:
    """Attach `kuaisu backup` and `kuaisu restore`."""
    from portal.ops_cli import backup_command, restore_command

    cli.add_command(backup_command)
    cli.add_command(restore_command)


_register_ops()


def _register_photos() -> None:
    """Attach `kuaisu photos`."""
    from portal.photos_cli import photos

    cli.add_command(photos)


_register_photos()


def _register_notify() -> None:
    """Attach `kuaisu notify`."""
    from portal.notify_cli import notify

    cli.add_command(notify)


_register_notify()


def _register_posters() -> None:
    """Attach `kuaisu posters` and `kuaisu merchants import|revoke`."""
    from portal.posters_cli import register

    register(cli, merchants)


_register_posters()


def _register_users() -> None:
    """Attach `kuaisu users`."""
    from portal.users_cli import users

    cli.add_command(users)


_register_users()


def _register_sla() -> None:
    """Attach `kuaisu sla`, `kuaisu audit` and `kuaisu calendar`."""
    from portal.sla_cli import audit, calendar, sla

    for group in (sla, audit, calendar):
        cli.add_command(group)


_register_sla()


def _register_insight() -> None:
    """Attach `kuaisu report`, `kuaisu apikeys` and `kuaisu insight`."""
    from portal.insight_cli import apikeys, insight, report

    cli.add_command(report)
    cli.add_command(apikeys)
    cli.add_command(insight)


_register_insight()


def _register_signals() -> None:
    """Attach `kuaisu signals`."""
    from portal.signals_cli import signals

    cli.add_command(signals)


_register_signals()
