"""`kuaisu report weekly` and `kuaisu apikeys add|list|revoke`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import Engine, text

from portal.apikeys import ApiKeyError, issue_key, list_keys, revoke_key
from portal.db import new_session, utcnow
from portal.models import CaseFact, ShopDay, ShopMonth, UnitDay, UnitMonth


def _moment(text: str | None) -> datetime:
    """Parse --now (ISO 8601; a naive time is taken as UTC), or return the current time."""
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {text}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def report() -> None:
    """Reports sent on a schedule."""


@report.command("weekly")
@click.option("--now", "now_text", help="Pretend it is this moment (ISO 8601).")
@with_appcontext
def report_weekly(now_text: str | None) -> None:
    """Queue last week's summary to each unit's channels; running it twice sends nothing more."""
    from portal.weekly import send_weekly

    now, config = _moment(now_text), current_app.config
    with new_session(write=True) as session, force_locale(config["BABEL_DEFAULT_LOCALE"]):
        results = send_weekly(session, now, config["BASE_URL"])
        session.commit()
    for result in results:
        state = "already sent" if result.already_sent else f"{result.deliveries} deliveries queued"
        click.echo(f"{result.week_start} unit {result.unit_id} {result.unit_name}: {state}")
    if not results:
        click.echo("no unit has an active notification channel")


@click.group()
def apikeys() -> None:
    """Open311 keys of integrators."""


@apikeys.command("add")
@click.argument("name")
@with_appcontext
def apikeys_add(name: str) -> None:
    """Issue a key for NAME and print it once; only its hash is stored."""
    with new_session(write=True) as session:
        try:
            row, key = issue_key(session, name, actor=None, now=utcnow())
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"key {row.id} for {row.name}: {key}")
    click.echo("Copy it now: it cannot be shown again.", err=True)


@apikeys.command("list")
@with_appcontext
def apikeys_list() -> None:
    """List every key: id, prefix, name and whether it is revoked."""
    with new_session() as session:
        for row in list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "live"
            click.echo(f"{row.id:>4}  {row.prefix}…  {state:18} {row.name}")


@apikeys.command("revoke")
@click.argument("key_id", type=int)
@with_appcontext
def apikeys_revoke(key_id: int) -> None:
    """Revoke key KEY_ID at once."""
    with new_session(write=True) as session:
        try:
            revoke_key(session, key_id, actor=None, now=utcnow())
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    click.echo(f"key {key_id} revoked")


@click.group()
def insight() -> None:
    """The dashboard's pre-aggregated tables."""


@insight.command("rebuild")
@with_appcontext
def insight_rebuild() -> None:
    """Recount every case into the day tables (after a bulk load or a change of time limits)."""
    from portal.facts_upkeep import rebuild

    with new_session(write=True) as session:
        cases = rebuild(session)
        session.commit()
    vacuum_facts(current_app.extensions["kuaisu.engine"])
    click.echo(f"insight facts rebuilt from {cases} cases")


def vacuum_facts(engine: Engine) -> None:
    """PostgreSQL: vacuum the rebuilt tables at once rather than when autovacuum comes round.

    Until a table is vacuumed its visibility map is empty, so the dashboard's covering
    indexes (portal/models/facts.py) read every row again from the table: index-only scans
    need the map. VACUUM cannot run inside a transaction, hence a connection of its own.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for model in (CaseFact, ShopDay, UnitDay, UnitMonth, ShopMonth):
            conn.execute(text(f"VACUUM ANALYZE {model.__tablename__}"))


@insight.command("refresh")
@with_appcontext
def insight_refresh() -> None:
    """Measure the cases changed since the last refresh (every minute, beside the sweep)."""
    from portal.facts_queue import catch_up

    with new_session(write=True) as session:
        changed = catch_up(session)
        session.commit()
    click.echo(f"insight facts: {changed} cases re-measured")
