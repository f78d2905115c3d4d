"""The audit log of actions that are not a change to one case: exports, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.models import AuditLog, User


def record(
    session: Session, action: str, *, actor: User | None, now: datetime, data: dict[str, Any] | None = None
) -> AuditLog:
    """Append one row; `data` says what was done, never to whom (no phones or names, PIPL)."""
    row = AuditLog(
        action=action,
        actor_id=actor.id if actor else None,
        actor_role=actor.role if actor else "system",
        data=data,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
