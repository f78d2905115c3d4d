"""The notification outbox: deliveries in the case's transaction, claims, backoff, dead, health."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import notify
from portal.cli import cli
from portal.db import new_session
from portal.followup import add_information
from portal.models import Complaint, Delivery, Market, Merchant, NotificationChannel, User
from portal.notify_outbox import PassResult, RetryPolicy, claim_due, send_pass
from portal.notify_send import SendSettings
from portal.storage import LocalStore
from tests.conftest import NOW
from tests.factories import Factory, complaint_form
from tests.notify_servers import free_port


@pytest.fixture(autouse=True)
def _notify_settings(app_config: dict[str, Any], smtp_sink: Any) -> None:
    app_config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_sink.port,
        MAIL_FROM="kuaisu@ks.example.cn",
        ALLOW_LOCAL_WEBHOOKS="1",
        NOTIFY_CONNECT_TIMEOUT=1,
        NOTIFY_TIMEOUT=1,
        NOTIFY_MAX_ATTEMPTS=4,
        NOTIFY_KICK=False,
    )


@pytest.fixture(autouse=True)
def _background_sender_stops(_notify_settings: None, app: Flask) -> Iterator[None]:
    """Never leave a background pass running into the next test."""
    yield
    notify.kicker(app).join()


def add_channel(
    session: Session,
    kind: str,
    target: str,
    *,
    market: Market | None = None,
    unit_id: int | None = None,
    active: bool = True,
) -> NotificationChannel:
    channel = NotificationChannel(
        market_id=market.id if market else None,
        unit_id=unit_id,
        kind=kind,
        target=target,
        active=active,
        created_at=NOW,
    )
    session.add(channel)
    session.commit()
    return channel


def add_user(session: Session, role: str, email: str | None, *, active: bool = True, **scope: int) -> User:
    user = User(
        username=f"{role}-{email or 'none'}-{active}",
        display_name=role,
        password_hash="x",
        role=role,
        email=email,
        active=active,
        created_at=NOW,
        **scope,
    )
    session.add(user)
    session.commit()
    return user


def run_pass(app: Flask, now: Any = NOW, limit: int = 50) -> PassResult:
    with app.app_context():
        return send_pass(
            SendSettings.from_config(app.config), RetryPolicy.from_config(app.config), now, limit
        )


def fresh(session: Session) -> None:
    """End the read snapshot and forget loaded rows: the pass wrote in its own sessions."""
    session.rollback()
    session.expire_all()


def deliveries(session: Session, **where: Any) -> list[Delivery]:
    fresh(session)
    return list(session.scalars(select(Delivery).filter_by(**where).order_by(Delivery.id)))


@pytest.fixture
def shop(factory: Factory, session: Session, robot_endpoint: Any) -> Merchant:
    """A market with a WeCom robot and an email channel, and a shop with two emailed staff."""
    market = factory.make_market()
    merchant = factory.make_merchant(market)
    add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
    add_channel(session, "email", "station@ks.example.cn", market=market)
    add_user(session, "merchant", "owner@shop.cn", merchant_id=merchant.id)
    add_user(session, "merchant", "clerk@shop.cn", merchant_id=merchant.id)
    add_user(session, "merchant", None, merchant_id=merchant.id)
    add_user(session, "merchant", "gone@shop.cn", active=False, merchant_id=merchant.id)
    return merchant


def test_a_new_complaint_notifies_the_shop_staff_and_the_market_channels(
    session: Session, factory: Factory, shop: Merchant
) -> None:
    receipt = factory.make_complaint(shop)
    rows = deliveries(session, complaint_id=receipt.complaint.id)
    emails = sorted(session.get(User, d.user_id).email for d in rows if d.user_id)  # type: ignore[union-attr]
    kinds = sorted(session.get(NotificationChannel, d.channel_id).kind for d in rows if d.channel_id)  # type: ignore[union-attr]
    assert emails == ["clerk@shop.cn", "owner@shop.cn"]
    assert kinds == ["email", "wecom"]
    assert {d.status for d in rows} == {"pending"} and {d.next_attempt_at for d in rows} == {NOW}


def test_messages_carry_no_personal_data_and_speak_chinese(
    session: Session, factory: Factory, shop: Merchant
) -> None:
    receipt = factory.make_complaint(shop, phone="13912345678", name="王先生", description="地砖空鼓严重")
    case = receipt.complaint.case_number
    for delivery in deliveries(session, complaint_id=receipt.complaint.id):
        text = delivery.subject + delivery.body
        assert case in delivery.subject
        assert f"https://ks.example.cn/office/complaints/{case}" in delivery.body
        assert "张记瓷砖" in delivery.body and "投诉编号" in delivery.body
        for secret in ("13912345678", "5678", "王先生", "地砖空鼓"):
            assert secret not in text


def test_deliveries_roll_back_with_the_complaint(session: Session, factory: Factory, shop: Merchant) -> None:
    from portal.intake import Submission, Target, submit

    sub = Submission(
        kind="complaint",
        category="quality",
        description="x",
        idempotency_key="rollback-1",
        phone="13800138000",
    )
    target = Target(shop.unit_id, shop, shop.market, factory.poster_of(shop).id)
    submit(session, sub, target, photos=[], store=LocalStore("/nonexistent"), now=NOW, secret="s", salt="s")
    assert session.scalar(select(func.count()).select_from(Delivery)) == 4  # inside the transaction
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_a_report_goes_to_the_unit_and_never_to_the_merchant(
    session: Session, factory: Factory, shop: Merchant, robot_endpoint: Any
) -> None:
    unit_channel = add_channel(session, "feishu", robot_endpoint.url("feishu"), unit_id=shop.unit_id)
    receipt = factory.make_complaint(shop, kind="report")
    rows = deliveries(session, complaint_id=receipt.complaint.id)
    assert [(d.channel_id, d.user_id) for d in rows] == [(unit_channel.id, None)]
    assert "举报" in rows[0].subject


def test_a_standalone_shop_notifies_its_unit(session: Session, factory: Factory, robot_endpoint: Any) -> None:
    unit = factory.make_unit()
    merchant = factory.make_merchant(unit=unit)
    channel = add_channel(session, "dingtalk", robot_endpoint.url("dingtalk"), unit_id=unit.id)
    add_channel(session, "wecom", robot_endpoint.url("wecom"), unit_id=unit.id, active=False)
    receipt = factory.make_complaint(merchant)
    assert [d.channel_id for d in deliveries(session, complaint_id=receipt.complaint.id)] == [channel.id]


def test_later_events_go_to_the_assignee_when_there_is_one(
    session: Session, factory: Factory, shop: Merchant
) -> None:
    complaint = factory.make_complaint(shop).complaint
    station = add_user(session, "station", "mediator@station.cn", market_id=shop.market_id)  # type: ignore[arg-type]
    complaint.assignee_id = station.id
    add_information(
        session,
        complaint,
        "补充：发票已找到",
        photos=[],
        refused=[],
        store=LocalStore("/nonexistent"),
        now=NOW + timedelta(minutes=5),
        salt="s",
    )
    session.commit()
    later = [d for d in deliveries(session, complaint_id=complaint.id) if d.created_at > NOW]
    assert sorted(d.user_id or 0 for d in later)[-1] == station.id
    assert len([d for d in later if d.user_id]) == 1
    assert len([d for d in later if d.channel_id]) == 2
    assert "补充" in later[0].subject or "The shopper added information" in later[0].subject


@pytest.mark.parametrize(
    ("kind", "headline"), [("reminder", "提醒卡"), ("urge", "催办卡"), ("breach", "超时")]
)
def test_clock_cards_notify_the_responsible_staff_and_the_station(
    session: Session, factory: Factory, shop: Merchant, kind: str, headline: str
) -> None:
    from portal.audit import append_event

    complaint = factory.make_complaint(shop).complaint
    later = NOW + timedelta(minutes=30)
    append_event(session, complaint, kind, now=later, salt="s", actor_role="system")
    session.commit()
    cards = [d for d in deliveries(session, complaint_id=complaint.id) if d.created_at == later]
    assert len(cards) == 4 and all(headline in d.subject for d in cards)


def test_hidden_cases_and_unlisted_kinds_notify_nobody(
    session: Session, factory: Factory, shop: Merchant
) -> None:
    from portal.audit import append_event

    complaint = factory.make_complaint(shop).complaint
    before = len(deliveries(session))
    append_event(session, complaint, "note", now=NOW, salt="s", actor_role="station")
    complaint.hidden_at = NOW
    append_event(session, complaint, "shopper_info", now=NOW, salt="s", actor_role="shopper")
    session.commit()
    assert len(deliveries(session)) == before


def test_without_an_smtp_server_only_channels_are_queued(
    app: Flask, session: Session, factory: Factory, shop: Merchant
) -> None:
    app.config["SMTP_HOST"] = ""
    receipt = factory.make_complaint(shop)
    assert all(d.channel_id for d in deliveries(session, complaint_id=receipt.complaint.id))


def test_a_pass_sends_email_and_robot_messages(
    app: Flask, session: Session, factory: Factory, shop: Merchant, smtp_sink: Any, robot_endpoint: Any
) -> None:
    case = factory.make_complaint(shop).complaint.case_number
    result = run_pass(app)
    assert (result.claimed, result.sent, result.retrying) == (4, 4, 0)
    assert sorted(r for rcpts, _m in smtp_sink.messages for r in rcpts) == [
        "clerk@shop.cn",
        "owner@shop.cn",
        "station@ks.example.cn",
    ]
    assert all(case in m["Subject"] for _r, m in smtp_sink.messages)
    [post] = robot_endpoint.posted
    assert post.payload["msgtype"] == "markdown" and case in post.payload["markdown"]["content"]
    assert {d.status for d in deliveries(session)} == {"sent"}
    assert {d.sent_at for d in deliveries(session)} == {NOW}
    assert run_pass(app, NOW + timedelta(hours=1)).claimed == 0  # sent means sent once


def test_failures_back_off_on_a_fixed_schedule_then_die(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    market = factory.make_market()
    channel = add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
    factory.make_complaint(factory.make_merchant(market))
    robot_endpoint.mode = "http500"
    now = NOW
    # NOTIFY_MAX_ATTEMPTS=4: retries after 1, 2 and 4 minutes, then dead.
    for attempt, wait in [(1, 1), (2, 2), (3, 4)]:
        assert run_pass(app, now).retrying == 1
        [delivery] = deliveries(session, channel_id=channel.id)
        assert (delivery.attempts, delivery.status) == (attempt, "pending")
        assert delivery.next_attempt_at == now + timedelta(minutes=wait)
        assert delivery.last_error == "HTTP 500"
        assert run_pass(app, now + timedelta(minutes=wait, seconds=-1)).claimed == 0  # not due yet
        now += timedelta(minutes=wait)
    assert run_pass(app, now).dead == 1
    [delivery] = deliveries(session, channel_id=channel.id)
    assert (delivery.attempts, delivery.status) == (4, "dead")
    assert run_pass(app, now + timedelta(days=1)).claimed == 0
    fresh(session)
    assert (channel.failing_since, channel.last_error) == (NOW, "HTTP 500")
    assert len(robot_endpoint.posted) == 4


def test_a_success_clears_the_channel_failure(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    market = factory.make_market()
    channel = add_channel(session, "feishu", robot_endpoint.url("feishu"), market=market)
    merchant = factory.make_merchant(market)
    factory.make_complaint(merchant)
    robot_endpoint.mode = "refuse"
    assert run_pass(app).retrying == 1
    fresh(session)
    assert channel.failing_since == NOW and "19021" in (channel.last_error or "")
    robot_endpoint.mode = "ok"
    assert run_pass(app, NOW + timedelta(minutes=1)).sent == 1
    fresh(session)
    assert (channel.failing_since, channel.last_error) == (None, None)


def test_the_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=20)
    assert [policy.retry_delay(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert policy.retry_delay(15) == timedelta(hours=6)


def test_a_claim_is_exclusive_until_it_expires(
    app: Flask, session: Session, factory: Factory, shop: Merchant
) -> None:
    factory.make_complaint(shop)
    policy = RetryPolicy()
    with app.app_context():
        first = new_session(write=True)
        mine = claim_due(first, NOW, 50, policy)
        first.commit()
        first.close()
        second = new_session(write=True)
        assert claim_due(second, NOW + timedelta(seconds=30), 50, policy) == []
        # A sender that crashed never recorded a result: after the claim expires it is retried.
        assert claim_due(second, NOW + timedelta(seconds=61), 50, policy) == mine
        second.commit()
        second.close()
    assert len(mine) == 4


def test_two_concurrent_senders_never_send_the_same_delivery(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    market = factory.make_market()
    add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
    merchant = factory.make_merchant(market)
    cases = {factory.make_complaint(merchant).complaint.case_number for _ in range(12)}
    results: list[PassResult] = []
    start = threading.Barrier(2)

    def sender() -> None:
        start.wait()
        results.append(run_pass(app, NOW, limit=50))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = [p.payload["markdown"]["content"] for p in robot_endpoint.posted]
    assert sorted(c for text in posted for c in cases if c in text) == sorted(cases)
    assert sum(r.claimed for r in results) == 12 and sum(r.sent for r in results) == 12


def test_a_hanging_channel_costs_one_timeout_per_pass(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any, smtp_sink: Any
) -> None:
    market = factory.make_market()
    add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
    add_channel(session, "email", "station@ks.example.cn", market=market)
    merchant = factory.make_merchant(market)
    for _ in range(3):
        factory.make_complaint(merchant)
    robot_endpoint.mode = "hang"
    result = run_pass(app)
    assert (result.sent, result.retrying) == (3, 3)
    assert len(robot_endpoint.posted) == 1 and len(smtp_sink.messages) == 3
    assert {d.last_error for d in deliveries(session, status="pending")} == {"TimeoutError: timed out"}


def test_a_pass_that_would_outlive_its_claims_gives_them_back(
    app: Flask, session: Session, factory: Factory, shop: Merchant, robot_endpoint: Any
) -> None:
    factory.make_complaint(shop)
    with app.app_context():
        short = RetryPolicy(claim=timedelta(seconds=1))
        result = send_pass(SendSettings.from_config(app.config), short, NOW)
    assert (result.claimed, result.sent, result.retrying) == (4, 0, 0)
    assert {(d.status, d.attempts, d.claimed_until) for d in deliveries(session)} == {("pending", 0, None)}
    assert run_pass(app).sent == 4  # due again at once


def test_a_switched_off_channel_drops_its_queue(
    app: Flask, session: Session, factory: Factory, robot_endpoint: Any
) -> None:
    market = factory.make_market()
    channel = add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
    factory.make_complaint(factory.make_merchant(market))
    channel.active = False
    session.commit()
    assert run_pass(app).dead == 1
    assert robot_endpoint.posted == []
    assert deliveries(session)[0].last_error == "channel switched off"


def test_the_shopper_is_answered_and_the_case_stored_while_every_endpoint_is_down(
    app: Flask, detached_session: Session, robot_endpoint: Any, smtp_sink: Any
) -> None:
    session = detached_session
    app.config.update(NOTIFY_KICK=True, SMTP_PORT=free_port())  # the mail server is gone
    with app.app_context():
        factory = Factory(session, NOW)
        market = factory.make_market()
        merchant = factory.make_merchant(market)
        add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
        add_channel(session, "feishu", f"http://127.0.0.1:{free_port()}/feishu", market=market)
        add_user(session, "merchant", "owner@shop.cn", merchant_id=merchant.id)
        code = factory.poster_of(merchant).code
    robot_endpoint.mode = "hang"  # slower than the send timeout

    client = app.test_client()
    response = client.post(f"/c/{code}", data=complaint_form())
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200
    fresh(session)
    stored = session.scalars(select(Complaint)).one()
    assert stored.merchant_id == merchant.id

    notify.kicker(app).join()  # the background pass gave up on each endpoint and recorded why
    rows = deliveries(session, complaint_id=stored.id)
    assert len(rows) == 3
    assert {d.status for d in rows} == {"pending"} and {d.attempts for d in rows} == {1}
    assert all(d.last_error for d in rows)
    failing = session.scalars(
        select(NotificationChannel).where(NotificationChannel.failing_since.is_not(None))
    )
    assert len(list(failing)) == 2


def test_an_english_shopper_still_notifies_staff_in_chinese(
    app: Flask, detached_session: Session, robot_endpoint: Any
) -> None:
    session = detached_session
    with app.app_context():
        factory = Factory(session, NOW)
        market = factory.make_market()
        merchant = factory.make_merchant(market)
        add_channel(session, "wecom", robot_endpoint.url("wecom"), market=market)
        code = factory.poster_of(merchant).code
    response = app.test_client().post(
        f"/c/{code}?lang=en", data=complaint_form(), headers={"Accept-Language": "en"}
    )
    assert response.status_code == 303
    [delivery] = deliveries(session)
    assert "新投诉" in delivery.subject and "投诉编号" in delivery.body


def test_cli_send_and_test(
    app: Flask, session: Session, factory: Factory, shop: Merchant, robot_endpoint: Any
) -> None:
    factory.make_complaint(shop)
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["notify", "send", "--now", "2026-11-23T06:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "claimed 4, sent 4, retrying 0, dead 0" in result.output
    channel = session.scalars(select(NotificationChannel).where(NotificationChannel.kind == "wecom")).one()
    ok = runner.invoke(cli, ["notify", "test", str(channel.id)])
    assert ok.exit_code == 0 and "test message sent" in ok.output
    robot_endpoint.mode = "refuse"
    bad = runner.invoke(cli, ["notify", "test", str(channel.id)])
    assert bad.exit_code == 1 and "310000" in bad.output
    fresh(session)
    assert channel.failing_since is not None
    assert runner.invoke(cli, ["notify", "test", "999999"]).exit_code == 1
