"""Transports against real servers on 127.0.0.1: SMTP, and the three robots' exact formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import unquote

import pytest

from portal.notify_send import InvalidTargetError, SendError, SendSettings, check_target, send_message
from tests.conftest import NOW
from tests.notify_servers import free_port

BODY = "**[快诉] 新投诉 KS202611230001**\n\n> 投诉编号：KS202611230001"
SUBJECT = "[快诉] 新投诉 KS202611230001"


@pytest.fixture
def settings(smtp_sink: Any) -> SendSettings:
    return SendSettings(
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        mail_from="kuaisu@ks.example.cn",
        allow_local_webhooks=True,
        connect_timeout=1.0,
        total_timeout=1.0,
    )


def test_wecom_posts_a_markdown_message(robot_endpoint: Any, settings: SendSettings) -> None:
    send_message("wecom", robot_endpoint.url("wecom"), SUBJECT, BODY, settings, NOW)
    [post] = robot_endpoint.posted
    assert post.payload == {"msgtype": "markdown", "markdown": {"content": BODY}}
    assert post.query == {"key": "k1"}
    assert post.content_type == "application/json; charset=utf-8"


def test_dingtalk_posts_markdown_signed_in_the_query(robot_endpoint: Any, settings: SendSettings) -> None:
    url = robot_endpoint.url("dingtalk", "tok")
    send_message("dingtalk", f"{url}|SECdemo", SUBJECT, BODY, settings, NOW)
    [post] = robot_endpoint.posted
    assert post.payload == {"msgtype": "markdown", "markdown": {"title": SUBJECT, "text": BODY}}
    millis = int(NOW.timestamp()) * 1000
    expected = base64.b64encode(
        hmac.new(b"SECdemo", f"{millis}\nSECdemo".encode(), hashlib.sha256).digest()
    ).decode()
    assert post.query["key"] == "tok"
    assert post.query["timestamp"] == str(millis)
    assert unquote(post.query["sign"]) == expected or post.query["sign"] == expected


def test_dingtalk_without_a_secret_is_not_signed(robot_endpoint: Any, settings: SendSettings) -> None:
    send_message("dingtalk", robot_endpoint.url("dingtalk"), SUBJECT, BODY, settings, NOW)
    assert set(robot_endpoint.posted[0].query) == {"key"}


def test_feishu_posts_text_signed_in_the_body(robot_endpoint: Any, settings: SendSettings) -> None:
    send_message("feishu", f"{robot_endpoint.url('feishu')}|fs-secret", SUBJECT, "第一行", settings, NOW)
    [post] = robot_endpoint.posted
    seconds = int(NOW.timestamp())
    expected = base64.b64encode(
        hmac.new(f"{seconds}\nfs-secret".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert post.payload == {
        "msg_type": "text",
        "content": {"text": f"{SUBJECT}\n第一行"},
        "timestamp": str(seconds),
        "sign": expected,
    }


@pytest.mark.parametrize(
    ("mode", "platform", "reason"),
    [
        ("http500", "wecom", "HTTP 500"),
        ("refuse", "wecom", "code 310000"),
        ("refuse", "dingtalk", "code 310000"),
        ("refuse", "feishu", "code 19021"),
        ("hang", "feishu", "timed out"),
    ],
)
def test_a_failing_robot_is_a_send_error(
    robot_endpoint: Any, settings: SendSettings, mode: str, platform: str, reason: str
) -> None:
    robot_endpoint.mode = mode
    with pytest.raises(SendError, match=reason) as caught:
        send_message(platform, robot_endpoint.url(platform, "secret-key"), SUBJECT, BODY, settings, NOW)
    assert "secret-key" not in str(caught.value)


def test_a_closed_port_is_a_send_error(settings: SendSettings) -> None:
    with pytest.raises(SendError, match="Connection"):
        send_message("wecom", f"http://127.0.0.1:{free_port()}/hook", SUBJECT, BODY, settings, NOW)


def test_email_arrives_with_an_encoded_chinese_subject(smtp_sink: Any, settings: SendSettings) -> None:
    send_message("email", "station@ks.example.cn", SUBJECT, "投诉编号：KS202611230001", settings, NOW)
    [(recipients, message)] = smtp_sink.messages
    assert recipients == ["station@ks.example.cn"]
    assert message["Subject"] == SUBJECT
    assert message["From"] == "kuaisu@ks.example.cn"
    assert message.get_content().strip() == "投诉编号：KS202611230001"
    raw_headers = smtp_sink.raw[0].split(b"\r\n\r\n", 1)[0]
    assert b"Subject: =?utf-8?" in raw_headers  # RFC 2047: no raw UTF-8 in the header
    raw_headers.decode("ascii")


def test_a_refusing_smtp_server_is_a_send_error(smtp_sink: Any, settings: SendSettings) -> None:
    smtp_sink.refuse = True
    with pytest.raises(SendError, match="SMTP"):
        send_message("email", "station@ks.example.cn", SUBJECT, "x", settings, NOW)


def test_email_without_a_configured_server_is_a_send_error() -> None:
    with pytest.raises(SendError, match="KUAISU_SMTP_HOST"):
        send_message("email", "station@ks.example.cn", SUBJECT, "x", SendSettings(), NOW)


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"),
        ("wecom", "https://evil.example.com/cgi-bin/webhook/send?key=x"),
        ("wecom", "https://oapi.dingtalk.com/robot/send?access_token=x"),
        ("dingtalk", "https://user:pw@oapi.dingtalk.com/robot/send"),
        ("feishu", "http://127.0.0.1:8080/hook"),
        ("feishu", "http://localhost:8080/hook"),
        ("email", "not an address"),
        ("email", "a@b.cn, c@d.cn"),
        ("sms", "13800138000"),
    ],
)
def test_targets_we_must_not_send_to_are_refused(kind: str, target: str) -> None:
    with pytest.raises(InvalidTargetError):
        check_target(kind, target, SendSettings())


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=abc|SEC123"),
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/2d8f|secret"),
        ("email", "station@ks.example.cn"),
    ],
)
def test_platform_targets_are_accepted(kind: str, target: str) -> None:
    check_target(kind, target, SendSettings())


def test_local_webhooks_need_the_test_switch() -> None:
    check_target("feishu", "http://127.0.0.1:8080/hook", SendSettings(allow_local_webhooks=True))
    check_target(
        "wecom", "https://robot.gov.example/send", SendSettings(extra_hosts=frozenset({"robot.gov.example"}))
    )
