"""Which cases a transaction changed, so they are queued for the insight facts as it commits.

ORM changes are noticed by the session hook in portal.facts_queue; writers that bypass the
ORM for speed (the sweep's bulk statements) name their cases here themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

_KEY = "kuaisu.cases_changed"


def note_changed(session: Session, complaint_ids: Iterable[int | None]) -> None:
    """Remember that these cases changed in the session's current transaction."""
    session.info.setdefault(_KEY, set()).update(i for i in complaint_ids if i is not None)


def take_changed(session: Session) -> set[int]:
    """Return and forget the cases changed since the last call."""
    found: set[int] = session.info.pop(_KEY, set())
    return found


def forget_changed(session: Session) -> None:
    """Forget the changes of a transaction that rolled back."""
    session.info.pop(_KEY, None)
