"""A small HTTP/1.1 client over asyncio streams, with keep-alive and a cookie jar.

Raw streams rather than httpx or aiohttp: the client shares two cores with the server it
measures, and a few hundred lines of parsing cost far less CPU per request than a library.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from dataclasses import dataclass, field

HOST = "127.0.0.1"
CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
IDEM = re.compile(rb'name="idem" type="hidden" value="([^"]+)"')


@dataclass
class Reply:
    """One HTTP response; `cookies` holds each Set-Cookie's name and value."""

    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)


class Connection:
    """One keep-alive connection that reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        """Send one request and read the whole response; retry once on a stale connection."""
        fresh = self.writer is None
        try:
            return await self._exchange(method, path, headers or {}, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if fresh:
                raise
            return await self._exchange(method, path, headers or {}, body)

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {HOST}:{self.port}",
            f"Content-Length: {len(body)}",
            "Accept-Language: zh-CN,zh;q=0.9",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("server closed the connection")
        status = int(status_line.split()[1])
        found: dict[str, str] = {}
        cookies: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            key = name.strip().lower()
            found[key] = f"{found[key]}, {value.strip()}" if key in found else value.strip()
            if key == "set-cookie":
                cookie_name, _, cookie_value = value.strip().split(";", 1)[0].partition("=")
                cookies[cookie_name] = cookie_value
        if found.get("transfer-encoding", "").lower() == "chunked":
            data = bytearray()
            while size := int((await self.reader.readline()).strip() or b"0", 16):
                data += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
            payload = bytes(data)
        else:
            payload = await self.reader.readexactly(int(found.get("content-length", "0")))
        if found.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, found, payload, cookies)

    def close(self) -> None:
        """Drop the socket; the next request opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Browser:
    """One client with its own connection and cookies, like a phone or an office PC."""

    def __init__(self, port: int) -> None:
        self.conn = Connection(port)
        self.cookies: dict[str, str] = {}

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        """Send the jar's cookies, remember the ones set in return."""
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        reply = await self.conn.request(method, path, sent, body)
        self.cookies.update(reply.cookies)
        return reply

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


@dataclass(frozen=True)
class Upload:
    """One file in a multipart form."""

    filename: str
    content_type: str
    data: bytes


def multipart(fields: dict[str, str], photos: list[Upload] | None = None) -> tuple[bytes, str]:
    """Encode a form as a browser does for enctype=multipart/form-data, with the chosen photos."""
    boundary = "----kuaisubench" + secrets.token_hex(8)
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    # A browser sends one empty file part when no photo was chosen.
    for photo in photos or [Upload("", "application/octet-stream", b"")]:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="{photo.filename}"\r\n'
            f"Content-Type: {photo.content_type}\r\n\r\n".encode()
        )
        out.write(photo.data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def hidden(pattern: re.Pattern[bytes], body: bytes) -> str | None:
    """Return the value of a hidden field found by `pattern` in a page, if there is one."""
    match = pattern.search(body)
    return match.group(1).decode() if match else None
