"""Clean the photos kept as sent (PHOTOS_IN_BACKGROUND) after the shopper already has a receipt.

Each pending photo is decoded outside any transaction, its clean copy stored, then the row
switched from pending to ready in one short write that only succeeds while the row is still
pending, so two workers (or a rerun after a kill) never process a photo twice. The original,
with whatever EXIF and GPS it carried (PIPL), is deleted once the switch is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.audit import append_event
from portal.models import Attachment, Complaint
from portal.storage import PhotoStore
from portal.uploads import CleanPhoto, PhotoError, new_storage_key, sanitise


@dataclass(frozen=True)
class PhotoLimits:
    """The limits the intake would have applied, and the salt for timeline events."""

    max_pixels: int
    max_bytes: int
    salt: str


@dataclass
class PhotoRun:
    """What one pass did."""

    ready: int = 0
    refused: int = 0
    storage_errors: int = 0
    raced: int = 0
    originals_left: int = 0

    def summary(self) -> str:
        """One line for the command's output."""
        return (
            f"photos: {self.ready} ready, {self.refused} refused, {self.storage_errors} left pending "
            f"after a storage error, {self.raced} done by another worker, {self.originals_left} "
            "originals not deleted"
        )


def pending_photos(session: Session, limit: int) -> list[tuple[int, str]]:
    """Return (attachment id, original's key) of the oldest pending photos."""
    rows = session.execute(
        select(Attachment.id, Attachment.storage_key)
        .where(Attachment.status == "pending")
        .order_by(Attachment.id)
        .limit(limit)
    )
    return [(row.id, row.storage_key) for row in rows]


def _finish(
    session: Session,
    attachment_id: int,
    clean: CleanPhoto | None,
    key: str,
    reason: str,
    now: datetime,
    limits: PhotoLimits,
) -> bool:
    """Switch one pending row to ready (or failed, on the timeline); False if it was not pending."""
    values = (
        {
            "status": "ready",
            "storage_key": key,
            "width": clean.width,
            "height": clean.height,
            "size_bytes": len(clean.data),
            "sha256": clean.sha256,
        }
        if clean is not None
        else {"status": "failed"}
    )
    switched = session.execute(
        update(Attachment)
        .where(Attachment.id == attachment_id, Attachment.status == "pending")
        .values(**values)
    )
    if switched.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if clean is None:
        attachment = session.get(Attachment, attachment_id)
        assert attachment is not None
        case = session.scalars(
            select(Complaint).where(Complaint.id == attachment.complaint_id).with_for_update()
        ).one()
        order = [a.id for a in sorted(case.attachments, key=lambda a: a.id)]
        append_event(
            session,
            case,
            "photo_not_stored",
            now=now,
            salt=limits.salt,
            actor_role="system",
            public=True,
            data={"photo": order.index(attachment_id) + 1, "reason": reason},
        )
    return True


def process_pending(
    open_session: Callable[[], Session],
    store: PhotoStore,
    limits: PhotoLimits,
    now: datetime,
    limit: int = 500,
) -> PhotoRun:
    """Clean up to `limit` pending photos; each one in its own short write transaction."""
    run = PhotoRun()
    with open_session() as session:
        waiting = pending_photos(session, limit)
    for attachment_id, original_key in waiting:
        clean, reason, key = None, "", new_storage_key()
        try:
            clean = sanitise(
                store.get(original_key), max_pixels=limits.max_pixels, max_bytes=limits.max_bytes
            )
            store.put(key, clean.data)
        except PhotoError as exc:
            clean, reason = None, exc.reason
        except OSError:
            run.storage_errors += 1  # the next run tries again; nothing was changed
            continue
        with open_session() as session:
            done = _finish(session, attachment_id, clean, key, reason, now, limits)
            session.commit()
        if not done:
            run.raced += 1
        run.ready, run.refused = (
            run.ready + (done and clean is not None),
            run.refused + (done and clean is None),
        )
        try:
            store.delete(key if not done else original_key)
        except OSError:
            run.originals_left += done
    return run
