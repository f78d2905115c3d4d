"""A sweep split over worker threads issues exactly what one worker would, once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import portal.sweep as sweep_module
from portal.audit import verify_chains
from portal.db import get_engine
from portal.models import Complaint, Event, StageCard
from portal.sweep import sweep_workers
from tests.conftest import NOW
from tests.factories import Factory
from tests.portal.sweeping import fresh, sweep_at

MIN = timedelta(minutes=1)


def _cards_per_case(session: Session) -> Counter[tuple[int, str]]:
    session.rollback()
    rows = session.execute(
        select(Event.complaint_id, Event.kind).where(Event.kind.in_(("reminder", "urge", "escalated")))
    )
    return Counter((complaint_id, kind) for complaint_id, kind in rows)


def _cases(factory: Factory) -> list[Complaint]:
    """Nine cases: in a market's shop and in a standalone shop, odd and even ids alike."""
    in_market = factory.make_merchant()
    assert in_market.market is not None
    standalone = factory.make_merchant(unit=in_market.market.unit, name="王记五金")
    return [factory.make_complaint(in_market if i % 3 else standalone).complaint for i in range(9)]


def test_two_workers_issue_each_card_once_and_climb_every_case(
    app: Flask, session: Session, factory: Factory
) -> None:
    cases = _cases(factory)
    report = sweep_at(app, NOW + 50 * MIN, batch=2, workers=2)
    assert report.counts == {"reminder": 9, "urge": 9, "escalated": 9}
    assert len(report.lines) == 27
    assert [line.split()[0] for line in report.lines] == sorted(line.split()[0] for line in report.lines)
    assert _cards_per_case(session) == Counter(
        {(c.id, k) for c in cases for k in ("reminder", "urge", "escalated")}
    )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(StageCard)) == 27
    assert {fresh(session, c).rung for c in cases} == {"station", "regulator"}
    assert sweep_at(app, NOW + 50 * MIN, workers=2).counts == {}
    session.rollback()
    assert verify_chains(session, app.config["PHONE_SALT"])[1] is None


def test_an_error_in_one_worker_is_raised_and_the_rerun_issues_the_rest_once(
    app: Flask, session: Session, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _cases(factory)
    doomed = cases[4].id
    real_act = sweep_module._act

    def failing_act(session: Session, complaint: Complaint, *args: Any, **kwargs: Any) -> str:
        if complaint.id == doomed:
            raise RuntimeError("disk full")
        return real_act(session, complaint, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "_act", failing_act)
    with pytest.raises(RuntimeError, match="disk full"):
        sweep_at(app, NOW + 40 * MIN, batch=1, workers=2)
    assert (doomed, "reminder") not in _cards_per_case(session)  # its batch rolled back
    monkeypatch.setattr(sweep_module, "_act", real_act)
    sweep_at(app, NOW + 40 * MIN, workers=2)
    assert _cards_per_case(session) == Counter({(c.id, k) for c in cases for k in ("reminder", "urge")})


def test_postgresql_sweeps_with_two_workers_and_sqlite_with_one(app: Flask, database_url: str) -> None:
    with app.app_context():
        assert sweep_workers(get_engine()) == (2 if database_url.startswith("postgresql") else 1)


def test_less_than_a_batch_stays_in_one_worker_and_one_digest(
    app: Flask, session: Session, factory: Factory
) -> None:
    from portal.models import Delivery, NotificationChannel
    from tests.portal.sweeping import digest_lines

    merchant = factory.make_merchant()
    robot = NotificationChannel(
        kind="wecom",
        target="https://qyapi.weixin.qq.com/x",
        active=True,
        created_at=NOW,
        market_id=merchant.market_id,
    )
    session.add(robot)
    session.commit()
    cases = [factory.make_complaint(merchant).complaint for _ in range(4)]
    session.rollback()
    before = session.scalars(select(Delivery.id).order_by(Delivery.id.desc())).first() or 0
    assert sweep_at(app, NOW + 23 * MIN, workers=2).counts == {"reminder": 4}
    session.rollback()
    [digest] = session.scalars(
        select(Delivery).where(Delivery.id > before, Delivery.channel_id == robot.id)
    ).all()
    assert sorted(digest_lines(digest.body)) == sorted((c.case_number, "提醒卡") for c in cases)
