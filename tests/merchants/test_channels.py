"""The channels page: stations and regulators manage channels and see which ones are failing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from merchants.channels import failing_channels
from portal.models import Delivery, Market, NotificationChannel, User
from portal.notify_outbox import RetryPolicy, send_pass
from portal.notify_send import SendSettings
from tests.conftest import NOW
from tests.factories import Factory
from tests.merchants.conftest import login_as

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


@pytest.fixture(autouse=True)
def _notify_settings(app_config: dict[str, Any]) -> None:
    app_config.update(
        ALLOW_LOCAL_WEBHOOKS="1",
        NOTIFY_CONNECT_TIMEOUT=1,
        NOTIFY_TIMEOUT=1,
        NOTIFY_MAX_ATTEMPTS=2,
        NOTIFY_KICK=False,
    )


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Each request gets its own database session, as in production."""
    return detached_session


def make_user(session: Session, role: str, **scope: int) -> User:
    user = User(
        username=f"{role}-{sorted(scope.items())}",
        display_name=f"{role} 用户",
        password_hash="x",
        role=role,
        created_at=NOW,
        **scope,
    )
    session.add(user)
    session.commit()
    return user


def make_channel(
    session: Session,
    target: str,
    *,
    market: Market | None = None,
    unit_id: int | None = None,
    kind: str = "wecom",
) -> NotificationChannel:
    channel = NotificationChannel(
        market_id=market.id if market else None,
        unit_id=unit_id,
        kind=kind,
        target=target,
        active=True,
        created_at=NOW,
    )
    session.add(channel)
    session.commit()
    return channel


@pytest.fixture
def world(app: Flask, session: Session, robot_endpoint: Any) -> dict[str, Any]:
    """Two markets under one unit, a robot on each, and a station user for the first."""
    factory = Factory(session, NOW)
    unit = factory.make_unit()
    ours, theirs = factory.make_market(unit), factory.make_market(unit, name="红星美凯龙")
    shop = factory.make_merchant(ours)
    return {
        "unit": unit,
        "ours": ours,
        "theirs": theirs,
        "shop": shop,
        "factory": factory,
        "ours_robot": make_channel(session, robot_endpoint.url("wecom", "ours-key"), market=ours),
        "theirs_robot": make_channel(session, robot_endpoint.url("wecom", "their-key"), market=theirs),
        "station": make_user(session, "station", market_id=ours.id),
    }


def fail_deliveries(app: Flask, world: dict[str, Any], robot_endpoint: Any) -> None:
    """A complaint arrives while the robot refuses every message; the sender gives up."""
    with app.app_context():
        world["factory"].make_complaint(world["shop"])
        world["factory"].make_complaint(world["shop"])
        robot_endpoint.mode = "refuse"
        settings, policy = SendSettings.from_config(app.config), RetryPolicy.from_config(app.config)
        send_pass(settings, policy, NOW)
        send_pass(settings, policy, NOW + timedelta(minutes=1))


def test_a_failing_channel_is_shown_to_its_station(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any], robot_endpoint: Any
) -> None:
    fail_deliveries(app, world, robot_endpoint)
    login_as(client, world["station"])
    page = client.get("/office/channels", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    row = page.split(f'id="channel-{world["ours_robot"].id}"')[1].split("</tr>")[0]
    assert 'class="failing"' in page and "310000" in row
    assert "2026-11-23 14:00" in row  # failing since, in Shanghai time
    assert "<td>0</td>\n<td>2</td>" in row  # nothing waiting, two undelivered
    assert f'id="channel-{world["theirs_robot"].id}"' not in page
    assert "ours-key" not in page  # the robot's key stays secret


def test_failing_channels_for_the_board(
    app: Flask, session: Session, world: dict[str, Any], robot_endpoint: Any
) -> None:
    fail_deliveries(app, world, robot_endpoint)
    with app.app_context():
        found = failing_channels(session, world["station"])
        # Two messages, each tried twice (NOTIFY_MAX_ATTEMPTS) and given up.
        assert [(f.channel.id, f.failures) for f in found] == [(world["ours_robot"].id, 4)]
        other = make_user(session, "station", market_id=world["theirs"].id)
        assert failing_channels(session, other) == []
        merchant = make_user(session, "merchant", merchant_id=world["shop"].id)
        assert failing_channels(session, merchant) == []


def test_the_station_board_shows_a_failing_channel(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any], robot_endpoint: Any
) -> None:
    login_as(client, world["station"])
    assert "投递失败" not in client.get("/office/", headers={"Accept-Language": "zh-CN"}).text
    fail_deliveries(app, world, robot_endpoint)
    page = client.get("/office/", headers={"Accept-Language": "zh-CN"}).text
    banner = re.search(r'<p class="flash error" role="alert">(.*?)</p>', page)
    assert banner is not None
    said = r"通知渠道 企业微信群机器人 http://127\.0\.0\.1:\d+/…-key 投递失败 4 次，最近一次："
    assert re.search(said, banner[1])
    assert "310000" in banner[1] and "ours-key" not in page  # the reason, never the robot's key
    assert f'href="/office/channels#channel-{world["ours_robot"].id}">通知渠道设置</a>' in banner[1]
    # Another market's station and the shop's staff see no banner.
    login_as(client, make_user(session, "station", market_id=world["theirs"].id))
    assert "投递失败" not in client.get("/office/", headers={"Accept-Language": "zh-CN"}).text
    login_as(client, make_user(session, "merchant", merchant_id=world["shop"].id))
    assert "投递失败" not in client.get("/office/", headers={"Accept-Language": "zh-CN"}).text


def test_the_banner_goes_once_the_channel_works_again(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any], robot_endpoint: Any
) -> None:
    fail_deliveries(app, world, robot_endpoint)
    login_as(client, world["station"])
    robot_endpoint.mode = "ok"
    assert client.post(f"/office/channels/{world['ours_robot'].id}/test").status_code == 303
    assert "投递失败" not in client.get("/office/", headers={"Accept-Language": "zh-CN"}).text


@pytest.mark.parametrize("action", ["test", "switch", "retry"])
def test_another_markets_channel_is_a_404(
    client: FlaskClient, session: Session, world: dict[str, Any], action: str
) -> None:
    login_as(client, world["station"])
    assert client.post(f"/office/channels/{world['theirs_robot'].id}/{action}").status_code == 404
    assert client.post(f"/office/channels/999999/{action}").status_code == 404


def test_merchant_staff_may_not_manage_channels(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    login_as(client, make_user(session, "merchant", merchant_id=world["shop"].id))
    assert client.get("/office/channels").status_code == 403


def test_anonymous_visitors_are_sent_to_login(client: FlaskClient, world: dict[str, Any]) -> None:
    response = client.get("/office/channels")
    assert response.status_code == 302 and "/office/login" in response.headers["Location"]


def test_the_station_adds_a_signed_dingtalk_robot(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    login_as(client, world["station"])
    assert client.get("/office/channels/new").status_code == 200
    response = client.post(
        "/office/channels/new",
        data={
            "owner": f"market:{world['ours'].id}",
            "kind": "dingtalk",
            "target": "https://oapi.dingtalk.com/robot/send?access_token=abc123",
            "secret": "SEC999",
        },
    )
    assert response.status_code == 303
    added = session.scalars(select(NotificationChannel).where(NotificationChannel.kind == "dingtalk")).one()
    assert (added.market_id, added.target) == (
        world["ours"].id,
        "https://oapi.dingtalk.com/robot/send?access_token=abc123|SEC999",
    )


@pytest.mark.parametrize(
    ("owner", "target", "status"),
    [
        ("ours", "http://oapi.dingtalk.com/robot/send?access_token=abc", 400),
        ("ours", "https://intranet.example/robot/send", 400),
        ("theirs", "https://oapi.dingtalk.com/robot/send?access_token=abc", 404),
        ("unit", "https://oapi.dingtalk.com/robot/send?access_token=abc", 404),
    ],
)
def test_bad_targets_and_foreign_owners_are_refused(
    client: FlaskClient, session: Session, world: dict[str, Any], owner: str, target: str, status: int
) -> None:
    login_as(client, world["station"])
    choice = f"unit:{world['unit'].id}" if owner == "unit" else f"market:{world[owner].id}"
    response = client.post(
        "/office/channels/new", data={"owner": choice, "kind": "dingtalk", "target": target}
    )
    assert response.status_code == status
    assert (
        session.scalars(select(NotificationChannel).where(NotificationChannel.kind == "dingtalk")).all() == []
    )


def test_a_regulator_manages_its_units_and_markets_channels(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    regulator = make_user(session, "regulator", unit_id=world["unit"].id)
    login_as(client, regulator)
    response = client.post(
        "/office/channels/new", data={"owner": f"unit:{world['unit'].id}", "kind": "wecom", "target": WECOM}
    )
    assert response.status_code == 303
    page = client.get("/office/channels").get_data(as_text=True)
    for channel in (world["ours_robot"], world["theirs_robot"]):
        assert f'id="channel-{channel.id}"' in page


def test_send_test_message_reports_success_and_failure(
    client: FlaskClient, session: Session, world: dict[str, Any], robot_endpoint: Any
) -> None:
    login_as(client, world["station"])
    channel = world["ours_robot"]
    response = client.post(f"/office/channels/{channel.id}/test", follow_redirects=True)
    assert "测试消息已发送" in response.get_data(as_text=True) or "Test message sent" in response.get_data(
        as_text=True
    )
    [post] = robot_endpoint.posted
    assert post.payload["msgtype"] == "markdown"
    robot_endpoint.mode = "http500"
    page = client.post(f"/office/channels/{channel.id}/test", follow_redirects=True).get_data(as_text=True)
    assert "HTTP 500" in page
    session.rollback()
    session.expire_all()
    assert channel.failing_since is not None and channel.last_error == "HTTP 500"


def test_switch_off_and_send_undelivered_again(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any], robot_endpoint: Any
) -> None:
    fail_deliveries(app, world, robot_endpoint)
    login_as(client, world["station"])
    channel = world["ours_robot"]
    assert client.post(f"/office/channels/{channel.id}/retry").status_code == 303
    session.rollback()
    session.expire_all()
    again = session.scalars(select(Delivery).where(Delivery.channel_id == channel.id)).all()
    assert {(d.status, d.attempts) for d in again} == {("pending", 0)}
    assert client.post(f"/office/channels/{channel.id}/switch").status_code == 303
    session.rollback()
    session.expire_all()
    assert channel.active is False and channel.failing_since is None
    client.post(f"/office/channels/{channel.id}/switch")
    session.rollback()
    session.expire_all()
    assert channel.active is True
