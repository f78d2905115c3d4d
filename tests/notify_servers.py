"""Real servers on 127.0.0.1 for notification tests: an SMTP sink and a group-robot endpoint."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """An aiosmtpd server that keeps every message; `refuse` makes it answer 554."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []
        self.refuse = False
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "554 5.7.1 rejected for the test"
        self.raw.append(envelope.original_content or envelope.content)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@dataclass
class Posted:
    """One request the robot endpoint received."""

    path: str
    query: dict[str, str]
    payload: dict[str, Any]
    content_type: str


@dataclass
class RobotEndpoint:
    """A group-robot webhook on 127.0.0.1; `mode` is ok | http500 | refuse | hang."""

    mode: str = "ok"
    posted: list[Posted] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def url(self, platform: str, token: str = "k1") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/{platform}/send?key={token}"

    def start(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                parts = urlsplit(self.path)
                endpoint.posted.append(
                    Posted(
                        parts.path,
                        {k: v[0] for k, v in parse_qs(parts.query).items()},
                        json.loads(self.rfile.read(length)),
                        self.headers.get("Content-Type", ""),
                    )
                )
                if endpoint.mode == "hang":
                    # Hold the reply until the test ends: longer than any client timeout.
                    endpoint.release.wait(30)
                feishu = parts.path.startswith("/feishu")
                status, reply = (
                    200,
                    ({"code": 0, "msg": "success", "data": {}} if feishu else {"errcode": 0, "errmsg": "ok"}),
                )
                if endpoint.mode == "http500":
                    status, reply = 500, {"error": "internal"}
                elif endpoint.mode == "refuse":
                    reply = (
                        {"code": 19021, "msg": "sign match fail"}
                        if feishu
                        else {"errcode": 310000, "errmsg": "sign not match"}
                    )
                body = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting, as it should

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins the handler threads

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        assert self.server is not None and self.thread is not None
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
