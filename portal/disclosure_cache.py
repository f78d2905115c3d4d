"""The disclosure page's two caches: rendered pages, and whole responses replayed below Flask.

A visitor spike then costs one page computation per worker per TTL, and each further visit
only a dictionary lookup: the response Flask produced (with its security headers) is
replayed for the same query string, `lang` cookie and Accept-Language, until it expires.
A response that sets a cookie, or is not a 200, is never kept.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import parse_cookie

MAX_ENTRIES = 512
Key = tuple[str, ...]


class PageCache:
    """Values by key with a time to live; the least recently stored go first."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Key, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        _ALL.add(self)

    def get(self, key: Key) -> Any | None:
        """Return a live entry, or None."""
        hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: Key, ttl: float, value: Any) -> None:
        """Store an entry for ttl seconds."""
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get_or_build(self, key: Key, ttl: float, build: Callable[[], Any]) -> Any:
        """Return the entry, building it once (under the lock) when missing or stale."""
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self.get(key)
            if hit is None:
                hit = build()
                self._entries[key] = (time.monotonic() + ttl, hit)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            return hit

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


_ALL: weakref.WeakSet[PageCache] = weakref.WeakSet()


def clear_all() -> None:
    """Forget every cached page and response (tests, or after a correction)."""
    for cache in list(_ALL):
        cache.clear()


class ResponseReplay:
    """WSGI middleware: answer repeated GETs of one path from the last good response."""

    def __init__(self, app: Callable[..., Iterable[bytes]], path: str, ttl: float) -> None:
        self.app, self.path, self.ttl = app, path, ttl
        self.cache = PageCache()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Replay a kept response or pass the request on and keep a cacheable answer."""
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        lang = parse_cookie(environ.get("HTTP_COOKIE", "")).get("lang", "")
        key = (environ.get("QUERY_STRING", ""), lang, environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        hit = self.cache.get(key)
        if hit is not None:
            status, headers, body = hit
            start_response(status, list(headers))
            return [body]
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        headers = seen.get("headers", [])
        if seen.get("status", "").startswith("200") and not any(
            name.lower() == "set-cookie" for name, _ in headers
        ):
            self.cache.put(key, self.ttl, (seen["status"], tuple(headers), body))
        return [body]
