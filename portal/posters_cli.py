"""`kuaisu posters` (bulk printing and the job runner) and `kuaisu merchants import|revoke`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import cast

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from portal.db import new_session, utcnow
from portal.import_files import ImportFileError, read_register
from portal.importer import check_register, import_register
from portal.models import Market, PosterCode, RegulatorUnit
from portal.poster_jobs import run_job
from portal.poster_runner import settings_from, work
from portal.posters import AlreadyRevokedError, BulkScope, count_posters, iter_posters, units_beneath
from portal.register import RegisterError
from qr import bulk
from qr.codes import poster_url
from qr.fonts import FontNotFoundError, find_cjk_font
from qr.layout import LAYOUTS, Layout


class PostersGroup(AppGroup):
    """A group whose default command prints posters: `kuaisu posters OUT.pdf --all`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Treat a first argument that is not a subcommand as the output file."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["print", *args]
        return super().parse_args(ctx, args)


@click.group(cls=PostersGroup)
def posters() -> None:
    """Posters in bulk: kuaisu posters OUT.pdf|OUT.zip [--market ID] [--unit ID] [--all]."""


def _scope(market_id: int | None, unit_id: int | None, everything: bool) -> BulkScope:
    """Turn exactly one of --market, --unit, --all into a scope, checking the id exists."""
    if sum((market_id is not None, unit_id is not None, everything)) != 1:
        raise click.UsageError("give exactly one of --market ID, --unit ID or --all")
    with new_session() as session:
        if market_id is not None:
            if session.get(Market, market_id) is None:
                raise click.UsageError(f"no market with id {market_id} (see kuaisu merchants list)")
            return BulkScope("market", (market_id,))
        if unit_id is not None:
            if session.get(RegulatorUnit, unit_id) is None:
                raise click.UsageError(f"no regulator unit with id {unit_id}")
            return BulkScope("unit", units_beneath(session, unit_id))
    return BulkScope("all")


@posters.command("print")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--market", "market_id", type=int, help="One market and its merchants.")
@click.option("--unit", "unit_id", type=int, help="A regulator unit and everything under it.")
@click.option("--all", "everything", is_flag=True, help="Every market and merchant.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="A4", show_default=True)
@click.option("--workers", type=int, default=None, help="Processes to render with [every core].")
def print_posters(
    out: Path, market_id: int | None, unit_id: int | None, everything: bool, layout: str, workers: int | None
) -> None:
    """Write one PDF page (OUT.pdf) or one PNG (OUT.zip) per poster in the scope."""
    writers = {".pdf": bulk.write_pdf, ".zip": bulk.write_png_zip}
    writer = writers.get(out.suffix.lower())
    if writer is None:
        raise click.UsageError("OUT must end in .pdf (one PDF) or .zip (PNGs)")
    scope = _scope(market_id, unit_id, everything)
    try:
        font = find_cjk_font()
    except FontNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    base_url = current_app.config["BASE_URL"]
    partial = out.with_name(out.name + ".part")
    started = time.monotonic()
    with new_session() as session, partial.open("wb") as target:
        total = count_posters(session, scope)
        session.rollback()
        infos = iter_posters(session, scope, base_url)
        if sys.stdout.isatty():
            with click.progressbar(length=total, label="posters") as bar:
                state = {"done": 0}

                def advance(done: int) -> None:
                    bar.update(done - state["done"])
                    state["done"] = done

                count = writer(
                    infos, cast(Layout, layout), target, progress=advance, workers=workers, font=font
                )
        else:
            count = writer(infos, cast(Layout, layout), target, workers=workers, font=font)
    os.replace(partial, out)
    seconds = max(time.monotonic() - started, 1e-6)
    click.echo(
        f"{count} posters ({layout}) written to {out} in {seconds:.1f} s ({count / seconds:.0f} per second)"
    )


@posters.command("run-job")
@click.argument("token")
@click.option("--nice", "niceness", type=int, default=0, help="Lower this process's priority.")
@click.option("--idle", is_flag=True, help="Use only CPU time nothing else wants (SCHED_IDLE).")
def run_job_command(token: str, niceness: int, idle: bool) -> None:
    """Run one queued bulk job (as started from the web), then any others still queued."""
    if niceness:
        os.nice(niceness)
    if idle and hasattr(os, "sched_setscheduler"):
        # Linux: the run gets a core only when no web worker wants it, so shoppers never wait.
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    settings = settings_from(current_app.config)
    ran = run_job(token, settings)
    more = work(settings)
    click.echo(f"job {token}: {'ran' if ran else 'not run here'}; {more} more queued job(s) run")


@posters.command("work")
def work_command() -> None:
    """Fail interrupted jobs, remove old results, and run the queued bulk jobs."""
    ran = work(settings_from(current_app.config))
    click.echo(f"{ran} poster job(s) run")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--valid-only", is_flag=True, help="Import the valid rows and report the rest.")
@click.option(
    "--unit",
    "unit_id",
    type=int,
    help="Only markets under this unit; merchants without a market belong to it.",
)
@with_appcontext
def import_command(file: Path, valid_only: bool, unit_id: int | None) -> None:
    """Register the merchants in a CSV or XLSX file; nothing is imported while a row is bad."""
    try:
        rows = read_register(file.name, file.read_bytes())
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    with new_session(write=True) as session:
        markets = select(Market)
        if unit_id is not None:
            markets = markets.where(Market.unit_id.in_(units_beneath(session, unit_id)))
        check = check_register(session, rows, markets=list(session.scalars(markets)), default_unit_id=unit_id)
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            for error in check.errors:
                click.echo(f"line {error.line}: {error.message}", err=True)
        if check.errors and not valid_only:
            raise click.ClickException(
                f"{len(check.errors)} problem(s); nothing was imported (fix the file, or use "
                "--valid-only to import the valid rows)"
            )
        created = import_register(session, check, valid_only=valid_only, now=utcnow())
        session.commit()
    skipped = sorted({error.line for error in check.errors})
    click.echo(
        f"imported {len(created)}, already registered {len(check.unchanged)}, "
        f"skipped {len(skipped)}" + (f" (lines {', '.join(map(str, skipped))})" if skipped else "")
    )


@click.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why, e.g. the poster was copied and misused.")
@with_appcontext
def revoke_command(code: str, reason: str) -> None:
    """Revoke a poster code and print the owner's new code."""
    from portal.posters import revoke_poster

    with new_session(write=True) as session:
        poster = session.scalars(select(PosterCode).where(PosterCode.code == code.upper())).first()
        if poster is None:
            raise click.ClickException(f"no poster code {code}")
        try:
            fresh = revoke_poster(session, poster, reason=reason, now=utcnow())
        except (AlreadyRevokedError, RegisterError) as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(
            f"revoked {poster.code}; new code {fresh.code} "
            f"{poster_url(current_app.config['BASE_URL'], fresh.code)}"
        )


def register(cli: click.Group, merchants: click.Group) -> None:
    """Attach the commands to `kuaisu` and to `kuaisu merchants`."""
    cli.add_command(posters)
    merchants.add_command(import_command)
    merchants.add_command(revoke_command)
