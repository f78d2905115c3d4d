"""Changed cases are queued at commit and measured later; nothing reads a queued case's old facts."""

from __future__ import annotations

from datetime import date, timedelta

from click.testing import Result
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cli import cli
from portal.db import new_session
from portal.facts_query import FactScope, figures
from portal.facts_queue import catch_up
from portal.facts_upkeep import rebuild
from portal.lifecycle import reply, take
from portal.metrics_query import Filters, metric_context
from portal.models import CaseFact, CaseFactQueue
from tests.conftest import NOW
from tests.factories import Factory, make_user

SALT = "test-secret-key-0123456789abcdef"
TODAY = Filters(start=date(2026, 11, 22), end=date(2026, 11, 23))


def _queued(session: Session) -> list[int]:
    session.commit()  # a fresh snapshot
    return list(session.scalars(select(CaseFactQueue.complaint_id).order_by(CaseFactQueue.seq)))


def _facts(session: Session) -> int:
    session.commit()
    return int(session.scalar(select(func.count()).select_from(CaseFact)) or 0)


def test_a_new_case_is_queued_not_measured_in_its_own_transaction(session: Session, factory: Factory) -> None:
    """The shopper's transaction writes one queue row and no facts."""
    case = factory.make_complaint(now=NOW).complaint
    assert _queued(session) == [case.id]
    assert _facts(session) == 0


def test_catch_up_measures_the_queue_and_empties_it(session: Session, factory: Factory) -> None:
    """Catching up in batches of one measures every case once; a second catch-up finds nothing."""
    shop = factory.make_merchant()
    cases = [factory.make_complaint(shop, now=NOW - i * timedelta(minutes=5)).complaint for i in range(3)]
    staff = make_user(session, "station", market=shop.market)
    take(session, cases[0], staff, version=cases[0].version, now=NOW, salt=SALT)
    session.commit()
    assert sorted(_queued(session)) == sorted([c.id for c in cases] + [cases[0].id])
    writer = new_session(write=True)
    assert catch_up(writer, batch=1) == 3
    writer.commit()
    assert catch_up(writer) == 0
    writer.commit()
    writer.close()
    assert _queued(session) == []
    assert _facts(session) == 3


def test_reading_figures_catches_up_first(session: Session, factory: Factory) -> None:
    """A dashboard read from a reading session counts a case committed a moment before."""
    shop = factory.make_merchant()
    scope = FactScope(market=shop.market_id)
    ctx = metric_context(session, NOW)
    assert figures(session, scope, TODAY, ctx).counts.get("received", 0) == 0
    case = factory.make_complaint(shop, now=NOW - timedelta(minutes=2)).complaint
    staff = make_user(session, "station", market=shop.market)
    reply(session, case, staff, "已联系商户。", version=case.version, now=NOW, salt=SALT)
    session.commit()
    session.execute(select(CaseFactQueue.seq)).all()  # the reader holds a snapshot
    counts = figures(session, scope, TODAY, metric_context(session, NOW + timedelta(hours=2))).counts
    assert counts["received"] == 1
    assert counts["respond_on_time"] == 1
    assert _queued(session) == []


def test_rebuild_empties_the_queue(session: Session, factory: Factory) -> None:
    """A rebuild measures every case, so it leaves nothing queued."""
    factory.make_complaint(now=NOW)
    factory.make_complaint(now=NOW)
    writer = new_session(write=True)
    assert rebuild(writer) == 2
    writer.commit()
    writer.close()
    assert _queued(session) == []
    assert _facts(session) == 2


def test_refresh_command(app: Flask, factory: Factory, session: Session) -> None:
    """`kuaisu insight refresh` measures the queued cases and says how many."""
    factory.make_complaint(now=NOW)
    result: Result = app.test_cli_runner().invoke(cli, ["insight", "refresh"])
    assert result.exit_code == 0, result.output
    assert "1 cases" in result.output
    assert _queued(session) == []
    assert _facts(session) == 1
