"""The weekly summary goes to each unit's channels once per week, and `kuaisu apikeys` works."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cli import cli
from portal.models import ApiKey, AuditLog, Delivery, NotificationChannel, WeeklySummary
from portal.weekly import last_week
from tests.conftest import NOW
from tests.factories import Factory


def _channel(session: Session, unit_id: int, kind: str = "wecom") -> NotificationChannel:
    channel = NotificationChannel(
        unit_id=unit_id,
        kind=kind,
        active=True,
        created_at=NOW,
        target="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
    )
    session.add(channel)
    session.commit()
    return channel


def test_last_week_is_the_previous_monday_to_sunday() -> None:
    assert last_week(NOW) == date(2026, 11, 16)  # NOW is Monday 23 November, 14:00 Shanghai


def test_weekly_summary_is_sent_once_per_unit_and_week(
    app: Flask, session: Session, factory: Factory
) -> None:
    district = factory.make_unit("潞州区市场监督管理局", level="district")
    office = factory.make_unit("英雄南路市场监管所", parent=district)
    shop = factory.make_merchant(factory.make_market(office))
    for days in (3, 4, 12):  # two cases last week, one the week before
        factory.make_complaint(shop, now=NOW - timedelta(days=days), phone="13912345678")
    _channel(session, district.id)
    _channel(session, district.id, "dingtalk")
    runner = app.test_cli_runner()
    first = runner.invoke(cli, ["report", "weekly", "--now", NOW.isoformat()])
    assert first.exit_code == 0, first.output
    assert "2 deliveries queued" in first.output
    second = runner.invoke(cli, ["report", "weekly", "--now", (NOW + timedelta(hours=3)).isoformat()])
    assert "already sent" in second.output
    session.rollback()
    deliveries = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    assert len(deliveries) == 2 and session.scalar(select(func.count(WeeklySummary.id))) == 1
    body = deliveries[0].body
    assert "周报" in deliveries[0].subject and "11-16" in deliveries[0].subject
    assert "收到：2" in body.replace("**", "").replace("> ", "")
    assert "13912345678" not in body and "5678" not in body
    assert f"unit={district.id}" in body
    next_week = runner.invoke(cli, ["report", "weekly", "--now", (NOW + timedelta(days=7)).isoformat()])
    assert "2 deliveries queued" in next_week.output


def test_apikeys_cli_adds_lists_and_revokes(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    added = runner.invoke(cli, ["apikeys", "add", "城市运行管理平台"])
    assert added.exit_code == 0, added.output
    key = added.output.split(": ")[1].split()[0]
    assert key.startswith("ks_")
    listed = runner.invoke(cli, ["apikeys", "list"])
    assert "城市运行管理平台" in listed.output and key not in listed.output
    session.rollback()
    row = session.scalars(select(ApiKey)).one()
    assert runner.invoke(cli, ["apikeys", "revoke", str(row.id)]).exit_code == 0
    assert runner.invoke(cli, ["apikeys", "revoke", str(row.id)]).exit_code != 0
    session.rollback()
    assert [a.action for a in session.scalars(select(AuditLog))] == ["apikey_issued", "apikey_revoked"]
