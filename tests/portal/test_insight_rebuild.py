"""`kuaisu insight rebuild` recounts the facts and, on PostgreSQL, vacuums them at once."""

from __future__ import annotations

from click.testing import Result
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.cli import cli
from portal.models import CaseFact
from tests.conftest import NOW
from tests.factories import Factory


def test_rebuild_command_recounts_and_vacuums(app: Flask, factory: Factory, session: Session) -> None:
    """The command says how many cases it counted; PostgreSQL's facts tables come out vacuumed."""
    factory.make_complaint(now=NOW)
    factory.make_complaint(now=NOW)
    session.commit()
    result: Result = app.test_cli_runner().invoke(cli, ["insight", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt from 2 cases" in result.output
    session.commit()
    assert session.scalar(select(func.count()).select_from(CaseFact)) == 2
    if session.get_bind().dialect.name != "postgresql":
        return
    with session.get_bind().connect() as conn:
        vacuumed = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL"
                " AND (relname LIKE 'insight%' OR relname = 'case_fact')"
            )
        ).scalars()
        assert set(vacuumed) == {
            "case_fact",
            "insight_shop_day",
            "insight_unit_day",
            "insight_unit_month",
            "insight_shop_month",
        }
