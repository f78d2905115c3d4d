"""Transports: SMTP email and the WeCom, DingTalk and Feishu group robots, with strict timeouts."""

from __future__ import annotations

import http.client
import json
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from portal.notify_messages import (
    dingtalk_payload,
    dingtalk_sign,
    email_message,
    feishu_payload,
    wecom_payload,
)

CHANNEL_KINDS = ("email", "wecom", "dingtalk", "feishu")
# Only the platforms' own robot hosts: a station account must not make the server call
# arbitrary addresses (SSRF). KUAISU_WEBHOOK_HOSTS adds hosts of a private deployment.
ROBOT_HOSTS: dict[str, frozenset[str]] = {
    "wecom": frozenset({"qyapi.weixin.qq.com"}),
    "dingtalk": frozenset({"oapi.dingtalk.com"}),
    "feishu": frozenset({"open.feishu.cn", "open.larksuite.com"}),
}
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_MAX_REPLY = 64 * 1024


class SendError(Exception):
    """The message did not get through; the text is what the station sees (no secrets)."""


class InvalidTargetError(ValueError):
    """A channel target that we refuse to send to."""


def _flag(value: Any) -> bool:
    """Read a boolean setting that may come from the environment as text."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SendSettings:
    """Where and how to send, read once from the app config."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "kuaisu@localhost"
    allow_local_webhooks: bool = False
    extra_hosts: frozenset[str] = frozenset()
    connect_timeout: float = 3.0
    total_timeout: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SendSettings:
        """Build the settings from KUAISU_* config (strings from the environment are accepted)."""
        hosts = str(config.get("WEBHOOK_HOSTS") or "")
        return cls(
            smtp_host=str(config.get("SMTP_HOST") or ""),
            smtp_port=int(config.get("SMTP_PORT") or 25),
            smtp_user=str(config.get("SMTP_USER") or ""),
            smtp_password=str(config.get("SMTP_PASSWORD") or ""),
            smtp_starttls=_flag(config.get("SMTP_STARTTLS", "")),
            mail_from=str(config.get("MAIL_FROM") or "kuaisu@localhost"),
            allow_local_webhooks=_flag(config.get("ALLOW_LOCAL_WEBHOOKS", "")),
            extra_hosts=frozenset(h.strip().lower() for h in hosts.split(",") if h.strip()),
            connect_timeout=float(config.get("NOTIFY_CONNECT_TIMEOUT") or 3.0),
            total_timeout=float(config.get("NOTIFY_TIMEOUT") or 5.0),
        )


def split_target(target: str) -> tuple[str, str | None]:
    """Split a robot target stored as "URL" or "URL|secret"."""
    url, _sep, secret = target.partition("|")
    return url.strip(), (secret.strip() or None)


def check_target(kind: str, target: str, settings: SendSettings) -> None:
    """Refuse a target we must not send to: bad address, plain http, or a foreign host."""
    if kind == "email":
        if not _EMAIL.match(target.strip()):
            raise InvalidTargetError("not an email address")
        return
    if kind not in ROBOT_HOSTS:
        raise InvalidTargetError(f"unknown channel kind {kind!r}")
    parts = urlsplit(split_target(target)[0])
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and host == "127.0.0.1" and settings.allow_local_webhooks:
        return
    if parts.scheme != "https" or parts.username or parts.password:
        raise InvalidTargetError("the webhook must be an https:// address")
    if host not in ROBOT_HOSTS[kind] | settings.extra_hosts:
        raise InvalidTargetError(f"not a {kind} robot address")


def send_message(
    kind: str, target: str, subject: str, body: str, settings: SendSettings, now: datetime
) -> None:
    """Send one rendered message to a channel; raise SendError when it did not get through."""
    try:
        check_target(kind, target, settings)
    except InvalidTargetError as exc:
        raise SendError(str(exc)) from exc
    if kind == "email":
        send_email(target.strip(), subject, body, settings)
        return
    url, secret = split_target(target)
    seconds = int(now.timestamp())
    if kind == "wecom":
        payload = wecom_payload(subject, body)
    elif kind == "dingtalk":
        payload = dingtalk_payload(subject, body)
        if secret:
            millis = seconds * 1000
            joiner = "&" if "?" in url else "?"
            url += f"{joiner}timestamp={millis}&sign={quote(dingtalk_sign(secret, millis), safe='')}"
    else:
        payload = feishu_payload(subject, body, secret, seconds)
    check_reply(kind, *post_json(url, payload, settings))


def send_email(to: str, subject: str, body: str, settings: SendSettings) -> None:
    """Hand one email to the configured SMTP server (STARTTLS and login when configured)."""
    if not settings.smtp_host:
        raise SendError("SMTP is not configured (KUAISU_SMTP_HOST)")
    message = email_message(subject, body, settings.mail_from, to)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.connect_timeout) as smtp:
            if smtp.sock is not None:
                smtp.sock.settimeout(settings.total_timeout)
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP: {type(exc).__name__}: {exc}"[:300]) from exc


def post_json(url: str, payload: dict[str, Any], settings: SendSettings) -> tuple[int, bytes]:
    """POST JSON within the time budget; return status and (bounded) reply body."""
    parts = urlsplit(url)
    deadline = time.monotonic() + settings.total_timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "",
            parts.port,
            timeout=settings.connect_timeout,
            context=ssl.create_default_context(),
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=settings.connect_timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    data = json.dumps(payload, ensure_ascii=False).encode()
    try:
        conn.connect()
        _budget(conn, deadline)
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json; charset=utf-8"})
        _budget(conn, deadline)
        response = conn.getresponse()
        _budget(conn, deadline)
        return response.status, response.read(_MAX_REPLY)
    except (OSError, http.client.HTTPException) as exc:
        # The URL carries the robot's key: the error names the failure, never the address.
        raise SendError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    finally:
        conn.close()


def _budget(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Give the next socket operation only what is left of the total time budget."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise SendError("timed out")
    if conn.sock is not None:
        conn.sock.settimeout(left)


def check_reply(kind: str, status: int, raw: bytes) -> None:
    """Accept only a 2xx reply whose errcode (WeCom, DingTalk) or code (Feishu) is 0."""
    if not 200 <= status < 300:
        raise SendError(f"HTTP {status}")
    try:
        reply = json.loads(raw)
    except ValueError as exc:
        raise SendError(f"HTTP {status}, reply is not JSON") from exc
    if not isinstance(reply, dict):
        raise SendError("unexpected reply")
    if kind == "feishu":
        code = reply.get("code", reply.get("StatusCode"))
        message = reply.get("msg", reply.get("StatusMessage", ""))
    else:
        code, message = reply.get("errcode"), reply.get("errmsg", "")
    if code != 0:
        raise SendError(f"{kind} refused: code {code} {str(message)[:200]}".strip())
