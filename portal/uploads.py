"""Photos from shoppers: decoded, checked, re-encoded clean, and never trusted."""

from __future__ import annotations

import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
LONG_SIDE = 2048
# JPEG draft() decodes at 1/2, 1/4 or 1/8 scale; asking for at least this long side keeps
# evidence legible while a 12 MP photo decodes at a quarter of the pixels.
DRAFT_LONG_SIDE = 1600


def N_(msgid: str) -> str:
    """Mark a msgid for extraction; the page that shows it translates it."""
    return msgid


class PhotoError(ValueError):
    """A photo was refused; `reason` is a msgid the page translates."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CleanPhoto:
    """A re-encoded JPEG with no metadata, and its facts.

    With status "pending" it is the shopper's untouched upload instead, stored as it came and
    never shown until the photo worker (portal/photo_worker.py) replaces it with a clean copy.
    """

    data: bytes
    width: int | None
    height: int | None
    sha256: str
    status: str = "ready"


def _open_checked(raw: bytes, max_pixels: int) -> Image.Image:
    """Open against the allow-list and refuse bombs before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its own limit; a warning is a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(N_("The photo is too large.")) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(N_("The file is not a JPEG, PNG or WebP photo.")) from exc
    width, height = image.size
    if width * height > max_pixels or width <= 0 or height <= 0:
        raise PhotoError(N_("The photo is too large."))
    return image


def _decode(image: Image.Image) -> Image.Image:
    """Decode fully (load, not verify), at reduced size for JPEG, and stand it upright."""
    if image.format == "JPEG":
        width, height = image.size
        scale = DRAFT_LONG_SIDE / max(width, height)
        if scale < 1:
            image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x MAX_IMAGE_PIXELS; treat that as a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(N_("The photo is damaged or incomplete.")) from exc
    # In place: a copy of a 3-megapixel image costs more than the rotation itself.
    ImageOps.exif_transpose(image, in_place=True)
    return image


def sanitise(raw: bytes, *, max_pixels: int, max_bytes: int) -> CleanPhoto:
    """Return a clean JPEG (long side <= 2048, no EXIF/GPS/XMP/comment) or raise PhotoError."""
    if not raw:
        raise PhotoError(N_("The file is empty."))
    if len(raw) > max_bytes:
        raise PhotoError(N_("The photo is too large."))
    image = _decode(_open_checked(raw, max_pixels))
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.BILINEAR)
    # Pillow writes EXIF, XMP and ICC only when asked, but carries a JPEG comment (COM) over
    # from the source's info (PITFALLS: uploads); with the info emptied nothing rides along.
    image.info = {}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=False)
    data = out.getvalue()
    return CleanPhoto(data, image.width, image.height, hashlib.sha256(data).hexdigest())


def new_storage_key() -> str:
    """Return a server-made file name; what the shopper called the file is never used."""
    return f"{secrets.token_hex(16)}.jpg"
