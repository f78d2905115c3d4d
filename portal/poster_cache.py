"""What a post to a poster needs before its write transaction, kept a few seconds per worker.

Every complaint reads the same poster, merchant, market, promise (along the unit chain) and
working-day calendar; a worker keeps them for FORM_CACHE_SECONDS (as it keeps the rendered
form), so a renamed shop or a changed promise shows within that time. Revocation is checked
again inside every write transaction, so a revoked poster never takes a complaint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from portal.clock import Policy
from portal.db import new_session
from portal.intake import Target
from portal.models import PosterCode
from portal.policy import policy_for, work_calendar
from portal.targets import PosterView, find_poster, target_for
from portal.workdays import WorkCalendar

_KEY = "kuaisu.poster_targets"
_MAX = 4096
_REVOKED = select(PosterCode.revoked_at).where(PosterCode.id == bindparam("id"))


@dataclass(frozen=True)
class PosterTarget:
    """A live poster's target and what its write transaction needs (detached, read-only)."""

    view: PosterView
    target: Target
    calendar: WorkCalendar
    policy: Policy
    expires: float


def _cache() -> dict[tuple[str, int | None], PosterTarget]:
    found: dict[tuple[str, int | None], PosterTarget] = current_app.extensions.setdefault(_KEY, {})
    return found


def poster_target(code: str, shop_id: int | None) -> PosterTarget | None:
    """Return the target of a live poster (and the chosen shop), or None for a dead code."""
    key = (code.upper(), shop_id)
    found = _cache().get(key)
    if found is not None and found.expires > time.monotonic():
        return found
    ttl = float(current_app.config.get("FORM_CACHE_SECONDS", 10))
    session = new_session()
    try:
        view, _revoked = find_poster(session, code)
        if view is None:
            return None
        target, _merchant = target_for(session, view, shop_id)
        policy = policy_for(session, unit_id=target.unit_id, market=target.market)
        fresh = PosterTarget(view, target, work_calendar(session), policy, time.monotonic() + ttl)
    finally:
        session.close()
    if ttl > 0:
        cache = _cache()
        if len(cache) >= _MAX:
            cache.clear()
        cache[key] = fresh
    return fresh


def revoked_since(session: Session, found: PosterTarget) -> bool:
    """Say whether the poster was revoked after it was cached (asked inside the write)."""
    revoked = session.connection().execute(_REVOKED, {"id": found.view.poster.id}).scalar()
    if revoked is None:
        return False
    code = found.view.poster.code
    for key in [key for key in _cache() if key[0] == code]:
        _cache().pop(key, None)
    return True
