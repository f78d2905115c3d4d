"""From uploaded files to clean photos, telling the shopper which one failed and why."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app

from portal.storage import LocalStore, PhotoStore
from portal.uploads import N_, CleanPhoto, PhotoError, sanitise

MAX_PHOTOS = 6
# The first bytes of the formats sanitise() accepts: JPEG, PNG, and WebP in its RIFF box.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def photo_store() -> PhotoStore:
    """Return the configured photo store."""
    store: PhotoStore | None = current_app.extensions.get("kuaisu.photo_store")
    if store is None:
        store = LocalStore(current_app.config["UPLOAD_DIR"])
        current_app.extensions["kuaisu.photo_store"] = store
    return store


def original(raw: bytes, *, max_bytes: int) -> CleanPhoto:
    """Accept an upload as it came, for the photo worker to clean after the receipt is shown.

    Only what costs nothing is checked here (size, the format's first bytes); decoding, and
    with it every other refusal, happens in the worker, which records it on the timeline.
    """
    if not raw:
        raise PhotoError(N_("The file is empty."))
    if len(raw) > max_bytes:
        raise PhotoError(N_("The photo is too large."))
    if not raw.startswith(_SIGNATURES) and not (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"):
        raise PhotoError(N_("The file is not a JPEG, PNG or WebP photo."))
    return CleanPhoto(raw, None, None, hashlib.sha256(raw).hexdigest(), status="pending")


def clean_photos(files: list[Any] | None) -> tuple[list[tuple[int, CleanPhoto]], list[tuple[int, str]]]:
    """Sanitise each uploaded file; return (index, photo) pairs and (index, reason) refusals.

    With PHOTOS_IN_BACKGROUND the originals are kept as sent instead (status pending), so the
    shopper's receipt does not wait for decoding: the CPU cost of a spike moves to the worker.
    """
    config = current_app.config
    background = bool(config.get("PHOTOS_IN_BACKGROUND"))
    clean: list[tuple[int, CleanPhoto]] = []
    refused: list[tuple[int, str]] = []
    chosen = [f for f in files or [] if getattr(f, "filename", "")]
    for index, upload in enumerate(chosen[:MAX_PHOTOS], start=1):
        raw = upload.stream.read(config["MAX_PHOTO_BYTES"] + 1)
        try:
            if background:
                photo = original(raw, max_bytes=config["MAX_PHOTO_BYTES"])
            else:
                photo = sanitise(
                    raw, max_pixels=config["MAX_IMAGE_PIXELS"], max_bytes=config["MAX_PHOTO_BYTES"]
                )
        except PhotoError as exc:
            refused.append((index, exc.reason))
            continue
        clean.append((index, photo))
    return clean, refused
