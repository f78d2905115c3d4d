"""Real JPEGs that cost the server what a phone's photo costs: gradients plus noise."""

from __future__ import annotations

import io

from bench.loadgen.http import Upload

PHONE = (1600, 1200, 85)  # a photo a phone's share sheet or our shrink script sends: a few hundred KB
TWELVE_MP = (4000, 3000, 90)  # straight from a 12 MP camera


def camera_jpeg(width: int, height: int, quality: int, seed: int = 0) -> bytes:
    """Return a width x height JPEG of gradients and blurred noise, different for each seed."""
    from PIL import Image, ImageFilter

    horizontal = Image.linear_gradient("L").resize((width, height))
    vertical = horizontal.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    noise = Image.effect_noise((width, height), 40 + seed % 7).filter(ImageFilter.GaussianBlur(1))
    channels = [horizontal, vertical, noise]
    channels = channels[seed % 3 :] + channels[: seed % 3]
    out = io.BytesIO()
    Image.merge("RGB", tuple(channels)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def twelve_megapixel_jpeg() -> bytes:
    """Return a 4000x3000 JPEG (quality 90), like a real photo."""
    return camera_jpeg(*TWELVE_MP)


def photo_set(count: int, twelve_mp: bool) -> list[Upload]:
    """Return `count` distinct photos to attach, phone-sized or 12 MP."""
    width, height, quality = TWELVE_MP if twelve_mp else PHONE
    return [
        Upload(f"IMG_{2000 + seed}.jpg", "image/jpeg", camera_jpeg(width, height, quality, seed))
        for seed in range(count)
    ]
