"""Load shedding: a request that already waited too long in the queue is turned away at once.

nginx stamps each request as it hands it to gunicorn (`X-Request-Start: t=${msec}`, after it
has buffered the whole body, so a slow upload does not count). When the server is overloaded
the wait grows in gunicorn's backlog and its workers' queues; a request that waited longer
than KUAISU_QUEUE_BUDGET_MS is answered 503 with Retry-After before the database is touched,
so the CPU goes to requests that can still be answered in time (issue 7: in a spike the only
errors allowed are 429 or 503 with Retry-After).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, request

log = logging.getLogger("kuaisu")

# Pages are safe to ask again. The complaint POST is shed too: its 503 page keeps what the
# shopper typed (portal.errors). Other writes are few and carry typed input that a 503 would
# lose, so they are served however long they waited; so is the health check (the balancer
# must hear the truth) and the receipt a complaint's redirect opens (/t/<token>?new=1): that
# case is stored, and a shopper who saw no receipt does not know it.
SHED_WRITES = frozenset({"public.submit_form"})
NEVER_SHED = frozenset({"health.healthz"})
RECEIPT = "tracking.case_page"

# A shopper who has typed a complaint goes before a new visitor: the complaint POST may wait
# this many times the budget. Under overload the queue is then cut at the door (new form
# views, at the budget), not in the middle of a visit.
FINISHING_FACTOR = 3


class OverloadedError(Exception):
    """The request waited in the queue longer than the budget; answer 503 with Retry-After."""

    def __init__(self, waited_ms: float) -> None:
        super().__init__(f"waited {waited_ms:.0f} ms in the queue")
        self.waited_ms = waited_ms


def request_start(header: str) -> float | None:
    """Return the Unix time a proxy stamped on a request (`t=1700000000.123`), None if unreadable."""
    try:
        stamp = float(header.strip().removeprefix("t="))
    except ValueError:
        return None
    if not math.isfinite(stamp) or stamp <= 0:
        return None
    # nginx's ${msec} is seconds; other proxies stamp milli- or microseconds.
    while stamp > 1e11:
        stamp /= 1000
    return stamp


def waited_ms(header: str, now: float) -> float | None:
    """Return how long the request has waited since the stamp; a stamp from the future waited 0."""
    start = request_start(header)
    return None if start is None else max(0.0, (now - start) * 1000)


def over_budget(header: str | None, now: float, budget_ms: int) -> float | None:
    """Return the wait when it exceeds the budget, else None (no header, unreadable, in time)."""
    if header is None or budget_ms <= 0:
        return None
    waited = waited_ms(header, now)
    return waited if waited is not None and waited > budget_ms else None


def came_through_proxies(environ: Mapping[str, Any], proxies: int) -> bool:
    """Whether the request passed the configured proxies, by the rule ProxyFix trusts X-Forwarded-For.

    Only a proxy we run sets X-Request-Start (it overwrites what a client sent); a request that
    reached gunicorn without the proxies' X-Forwarded-For hops did not come through them.
    """
    if proxies <= 0:
        return False
    hops = [part for part in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    return len(hops) >= proxies


def sheddable(method: str, endpoint: str | None, receipt_just_given: bool = False) -> bool:
    """Whether a request may be turned away when it waited too long (see SHED_WRITES)."""
    if endpoint in NEVER_SHED or (endpoint == RECEIPT and receipt_just_given):
        return False
    return method in ("GET", "HEAD") or endpoint in SHED_WRITES


def budget_for(endpoint: str | None, budget_ms: int) -> int:
    """Return the wait allowed for this request: longer for a shopper sending a complaint."""
    return budget_ms * FINISHING_FACTOR if endpoint in SHED_WRITES else budget_ms


def init_app(app: Flask) -> None:
    """Shed requests past the queue budget; off when the budget is 0. Register before any other hook."""
    budget, proxies = int(app.config["QUEUE_BUDGET_MS"]), int(app.config["TRUSTED_PROXIES"])
    if budget <= 0:
        return

    @app.before_request
    def _shed_late_requests() -> None:
        if not sheddable(request.method, request.endpoint, request.args.get("new") == "1"):
            return
        if not came_through_proxies(request.environ, proxies):
            return
        allowed = budget_for(request.endpoint, budget)
        waited = over_budget(request.headers.get("X-Request-Start"), time.time(), allowed)
        if waited is not None:
            log.info("shed %s %s after %.0f ms in the queue", request.method, request.endpoint, waited)
            raise OverloadedError(waited)
