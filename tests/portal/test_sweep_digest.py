"""The sweep's notifications: one digest per recipient and batch, every card named exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import portal.sweep as sweep_module
from portal.models import Delivery, Merchant, NotificationChannel
from portal.notify_digest import DIGEST_BYTES
from portal.notify_outbox import RetryPolicy, send_pass
from portal.notify_send import SendSettings
from tests.conftest import NOW
from tests.factories import Factory
from tests.portal.sweeping import digest_lines, sweep_at

MIN = timedelta(minutes=1)
WECOM_LIMIT = 4096  # bytes of markdown content a WeCom group robot accepts


@pytest.fixture(autouse=True)
def _robots_on_loopback(app_config: dict[str, Any]) -> None:
    app_config.update(ALLOW_LOCAL_WEBHOOKS="1", NOTIFY_KICK=False, NOTIFY_CONNECT_TIMEOUT=1, NOTIFY_TIMEOUT=1)


def _robot(session: Session, merchant: Merchant, url: str) -> NotificationChannel:
    """Give the merchant's market a WeCom robot."""
    channel = NotificationChannel(
        kind="wecom", target=url, active=True, created_at=NOW, market_id=merchant.market_id
    )
    session.add(channel)
    session.commit()
    return channel


def _deliveries(session: Session, channel: NotificationChannel) -> list[Delivery]:
    session.rollback()
    session.expire_all()
    return list(
        session.scalars(select(Delivery).where(Delivery.channel_id == channel.id).order_by(Delivery.id))
    )


def _listed(rows: list[Delivery]) -> Counter[tuple[str, str]]:
    """Count each (case number, what happened) over every digest."""
    return Counter(line for row in rows for line in digest_lines(row.body))


def test_one_card_for_a_recipient_is_the_ordinary_notice(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    merchant = factory.make_merchant()
    robot = _robot(session, merchant, robot_endpoint.url("wecom"))
    complaint = factory.make_complaint(merchant).complaint
    before = len(_deliveries(session, robot))
    assert sweep_at(app, NOW + 23 * MIN).counts == {"reminder": 1}
    [notice] = _deliveries(session, robot)[before:]
    assert notice.complaint_id == complaint.id
    assert notice.subject == f"[快诉] 提醒卡：时限已过半 {complaint.case_number}"
    assert f"/office/complaints/{complaint.case_number}" in notice.body


def test_a_long_digest_is_split_to_fit_a_robot_message(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    # A long shop name makes each line long: the batch's 36 cards need several messages.
    merchant = factory.make_merchant(
        name="长治市潞州区太行东街万博装饰材料市场一楼东区张记瓷砖卫浴批发零售总店"
    )
    robot = _robot(session, merchant, robot_endpoint.url("wecom"))
    cases = [factory.make_complaint(merchant).complaint for _ in range(12)]
    before = len(_deliveries(session, robot))
    assert sweep_at(app, NOW + 50 * MIN).counts == {"reminder": 12, "urge": 12, "escalated": 12}
    parts = _deliveries(session, robot)[before:]
    assert len(parts) > 1
    assert all(len(p.body.encode()) <= WECOM_LIMIT for p in parts)
    assert all(
        sum(len(line.encode()) + 1 for line in p.body.splitlines()[2:-2]) <= DIGEST_BYTES for p in parts
    )
    assert [p.subject.rsplit("(", 1)[1] for p in parts] == [
        f"{i}/{len(parts)})" for i in range(1, len(parts) + 1)
    ]
    every_card = {(c.case_number, what) for c in cases for what in ("提醒卡", "催办卡", "案件已升级")}
    assert _listed(parts) == Counter(every_card)


def test_a_batch_that_fails_leaves_no_digest_and_the_rerun_lists_each_card_once(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = factory.make_merchant()
    robot = _robot(session, merchant, robot_endpoint.url("wecom"))
    cases = [factory.make_complaint(merchant).complaint for _ in range(6)]
    before = len(_deliveries(session, robot))
    real_act, calls = sweep_module._act, [0]

    def failing_act(*args: Any, **kwargs: Any) -> str:
        calls[0] += 1
        if calls[0] == 6:
            raise RuntimeError("killed")  # midway through the second batch, before its commit
        return real_act(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_act", failing_act)
    with pytest.raises(RuntimeError):
        sweep_at(app, NOW + 40 * MIN, batch=2)
    first = _deliveries(session, robot)[before:]
    assert _listed(first) == Counter({(c.case_number, w) for c in cases[:2] for w in ("提醒卡", "催办卡")})
    monkeypatch.setattr(sweep_module, "_act", real_act)
    assert sweep_at(app, NOW + 40 * MIN).counts == {"reminder": 4, "urge": 4}
    assert sweep_at(app, NOW + 40 * MIN).counts == {}  # and a third run lists nothing more
    every_card = {(c.case_number, w) for c in cases for w in ("提醒卡", "催办卡")}
    assert _listed(_deliveries(session, robot)[before:]) == Counter(every_card)


def test_a_digest_is_retried_with_backoff_and_its_failure_shown_to_the_station(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    merchant = factory.make_merchant()
    robot = _robot(session, merchant, robot_endpoint.url("wecom"))
    cases = [factory.make_complaint(merchant).complaint for _ in range(3)]
    before = len(_deliveries(session, robot))
    sweep_at(app, NOW + 23 * MIN)
    [digest] = _deliveries(session, robot)[before:]
    settings, policy = SendSettings.from_config(app.config), RetryPolicy.from_config(app.config)
    robot_endpoint.mode = "http500"
    later = NOW + 24 * MIN
    with app.app_context():
        send_pass(settings, policy, later, limit=500)  # the submitted notices and the digest
    session.rollback()
    session.expire_all()
    digest = session.get_one(Delivery, digest.id)
    assert (digest.status, digest.attempts, digest.last_error) == ("pending", 1, "HTTP 500")
    assert digest.next_attempt_at == later + policy.retry_delay(1)
    assert session.get_one(NotificationChannel, robot.id).failing_since == later
    robot_endpoint.mode = "ok"
    robot_endpoint.posted.clear()
    with app.app_context():
        send_pass(settings, policy, later + policy.retry_delay(1), limit=500)
    session.rollback()
    session.expire_all()
    assert session.get_one(Delivery, digest.id).status == "sent"
    assert session.get_one(NotificationChannel, robot.id).failing_since is None
    [posted] = [p for p in robot_endpoint.posted if "时限汇总" in p.payload["markdown"]["content"]]
    content = posted.payload["markdown"]["content"]
    assert all(c.case_number in content for c in cases)


def test_each_shop_hears_only_of_its_own_cases_and_the_station_of_all(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    from tests.factories import make_user

    app.config["SMTP_HOST"] = "127.0.0.1"
    first = factory.make_merchant()
    second = factory.make_merchant(first.market, name="李记灯饰")
    robot = _robot(session, first, robot_endpoint.url("wecom"))
    staff = {
        shop.id: make_user(session, "merchant", merchant=shop, email=f"{shop.id}@shop.cn")
        for shop in (first, second)
    }
    cases = {shop.id: [factory.make_complaint(shop).complaint for _ in range(2)] for shop in (first, second)}
    session.rollback()
    before = session.scalars(select(Delivery.id).order_by(Delivery.id.desc())).first() or 0
    sweep_at(app, NOW + 23 * MIN)
    session.rollback()
    rows = session.scalars(select(Delivery).where(Delivery.id > before)).all()
    for shop_id, user in staff.items():
        [digest] = [row for row in rows if row.user_id == user.id]
        assert _listed([digest]) == Counter({(c.case_number, "提醒卡") for c in cases[shop_id]})
    [to_station] = [row for row in rows if row.channel_id == robot.id]
    assert _listed([to_station]) == Counter(
        {(c.case_number, "提醒卡") for shop in cases.values() for c in shop}
    )
