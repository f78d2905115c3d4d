"""From uploaded files to clean photos, telling the shopper which one failed and why."""

from __future__ import annotations

from typing import Any

from flask import current_app

from portal.storage import LocalStore, PhotoStore
from portal.uploads import CleanPhoto, PhotoError, sanitise

MAX_PHOTOS = 6


def photo_store() -> PhotoStore:
    """Return the configured photo store."""
    store: PhotoStore | None = current_app.extensions.get("kuaisu.photo_store")
    if store is None:
        store = LocalStore(current_app.config["UPLOAD_DIR"])
        current_app.extensions["kuaisu.photo_store"] = store
    return store


def clean_photos(files: list[Any] | None) -> tuple[list[tuple[int, CleanPhoto]], list[tuple[int, str]]]:
    """Sanitise each uploaded file; return (index, photo) pairs and (index, reason) refusals."""
    config = current_app.config
    clean: list[tuple[int, CleanPhoto]] = []
    refused: list[tuple[int, str]] = []
    chosen = [f for f in files or [] if getattr(f, "filename", "")]
    for index, upload in enumerate(chosen[:MAX_PHOTOS], start=1):
        raw = upload.stream.read(config["MAX_PHOTO_BYTES"] + 1)
        try:
            photo = sanitise(raw, max_pixels=config["MAX_IMAGE_PIXELS"], max_bytes=config["MAX_PHOTO_BYTES"])
        except PhotoError as exc:
            refused.append((index, exc.reason))
            continue
        clean.append((index, photo))
    return clean, refused
