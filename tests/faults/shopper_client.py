"""A shopper that fetches the form, then posts it, retrying with the same form until acknowledged."""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from dataclasses import dataclass, field

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class Outcome:
    """What the clients saw: acknowledged form keys and how many retries it took."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        conn.close()


def fetch_form(port: int, code: str, pause: threading.Event) -> tuple[str, str]:
    """GET the form until it answers; return (csrf token, session cookie)."""
    while True:
        try:
            status, headers, text = _request(port, "GET", f"/c/{code}")
            match = TOKEN.search(text)
            if status == 200 and match:
                return match.group(1), headers["set-cookie"].split(";", 1)[0]
        except (OSError, http.client.HTTPException):
            pass
        pause.wait(0.02)


def submit_until_acknowledged(
    port: int, code: str, idem: str, phone: str, outcome: Outcome, max_tries: int = 200
) -> None:
    """Post one complaint, retrying the very same form after any failure, until a 303 comes."""
    pause = threading.Event()
    token, cookie = fetch_form(port, code, pause)
    body = urllib.parse.urlencode(
        {
            "csrf_token": token,
            "idem": idem,
            "kind": "complaint",
            "category": "quality",
            "description": f"第{idem}号测试投诉：瓷砖开裂，商家拒绝退换。",
            "phone": phone,
            "consent": "y",
        }
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    for attempt in range(max_tries):
        try:
            status, response_headers, _text = _request(port, "POST", f"/c/{code}", body, headers)
        except (OSError, http.client.HTTPException):
            status, response_headers = 0, {}
        with outcome.lock:
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            if attempt:
                outcome.retries += 1
        if status == 303:
            with outcome.lock:
                outcome.acknowledged[idem] = response_headers["location"]
            return
        pause.wait(0.02)  # client back-off before retrying the same form
    raise RuntimeError(f"{idem} never acknowledged")
