"""What a shopper adds after submitting: more information and photos."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from portal.audit import append_event
from portal.intake import Receipt, attach_photos
from portal.models import Complaint
from portal.storage import PhotoStore
from portal.uploads import CleanPhoto


def add_information(
    session: Session,
    complaint: Complaint,
    message: str,
    *,
    photos: Sequence[tuple[int, CleanPhoto]],
    refused: Sequence[tuple[int, str]],
    store: PhotoStore,
    now: datetime,
    salt: str,
    idem: str = "",
) -> bool:
    """Record the shopper's message and photos as public events; a resent form adds nothing."""
    if idem and any(
        e.kind == "shopper_info" and (e.data or {}).get("idem") == idem for e in complaint.events
    ):
        return False
    receipt = Receipt(complaint, "", created=False, photo_problems=list(refused))
    attach_photos(session, complaint, photos, store, now, receipt)
    complaint.updated_at = now
    append_event(
        session,
        complaint,
        "shopper_info",
        now=now,
        salt=salt,
        actor_role="shopper",
        public=True,
        body=message.strip(),
        data={
            "photos": len(photos) + len(refused) - len(receipt.photo_problems),
            **({"idem": idem} if idem else {}),
        },
    )
    for index, reason in receipt.photo_problems:
        append_event(
            session,
            complaint,
            "photo_not_stored",
            now=now,
            salt=salt,
            actor_role="system",
            public=True,
            data={"photo": index, "reason": reason},
        )
    return True
