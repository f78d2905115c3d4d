"""Shoppers' photos: decoded against an allow-list, bombs refused, stored clean and upright."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from portal.storage import LocalStore
from portal.uploads import LONG_SIDE, PhotoError, new_storage_key, sanitise
from tests.factories import image_bytes

LIMITS = {"max_pixels": 50_000_000, "max_bytes": 12 * 1024 * 1024}


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _png_header_only(width: int, height: int) -> bytes:
    """Return a PNG whose header claims width x height but carries one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "ShopperPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 42.0)
    gps[ExifTags.GPS.GPSProcessingMethod] = b"ASCII\x00\x00\x00GPS fix"
    return exif


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_allowed_formats_become_clean_jpeg(fmt: str) -> None:
    photo = sanitise(image_bytes(fmt, (64, 48)), **LIMITS)
    image = _open(photo.data)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert (photo.width, photo.height) == image.size == (64, 48)
    assert len(photo.sha256) == 64


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (image_bytes("GIF"), "not a JPEG, PNG or WebP"),
        (image_bytes("BMP"), "not a JPEG, PNG or WebP"),
        (image_bytes("TIFF"), "not a JPEG, PNG or WebP"),
        (b"this is a text file pretending to be a photo\n" * 20, "not a JPEG, PNG or WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a JPEG, PNG or WebP"),
        (b"", "empty"),
    ],
)
def test_other_files_are_refused_whatever_their_name(raw: bytes, reason: str) -> None:
    with pytest.raises(PhotoError, match=reason):
        sanitise(raw, **LIMITS)


def test_png_header_claiming_a_huge_size_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(*_args: object) -> None:
        raise AssertionError("a bomb must be refused before any pixel is decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    for size in ((20000, 20000), (100_000, 100_000), (60_000, 1000)):
        with pytest.raises(PhotoError, match="too large"):
            sanitise(_png_header_only(*size), **LIMITS)


def test_tiny_highly_compressed_huge_png_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (10000, 10000)).save(out, "PNG")
    assert len(out.getvalue()) < 20_000  # 100 megapixels in a few kilobytes
    with pytest.raises(PhotoError, match="too large"):
        sanitise(out.getvalue(), **LIMITS)


def test_pixel_limit_between_one_and_two_times_is_refused() -> None:
    # Pillow only warns between 1x and 2x its limit; our own limit refuses outright.
    raw = image_bytes("PNG", (3000, 2000))
    with pytest.raises(PhotoError, match="too large"):
        sanitise(raw, max_pixels=4_000_000, max_bytes=LIMITS["max_bytes"])


def test_file_over_the_byte_limit_is_refused() -> None:
    with pytest.raises(PhotoError, match="too large"):
        sanitise(image_bytes("JPEG", (200, 200)), max_pixels=50_000_000, max_bytes=100)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_files_are_refused(fmt: str) -> None:
    import random

    rng = random.Random(7)
    noisy = Image.frombytes("RGB", (300, 200), bytes(rng.randrange(256) for _ in range(300 * 200 * 3)))
    out = io.BytesIO()
    noisy.save(out, fmt)
    whole = out.getvalue()
    with pytest.raises(PhotoError):
        sanitise(whole[: len(whole) * 6 // 10], **LIMITS)


def test_exif_orientation_is_applied() -> None:
    # Stored sideways (64 wide, red left, blue right) with "rotate 90 clockwise to view".
    raw = image_bytes("JPEG", (64, 48), exif=_exif_with_gps(orientation=6), quality=95)
    photo = sanitise(raw, **LIMITS)
    image = _open(photo.data)
    assert image.size == (48, 64)
    top, bottom = image.getpixel((24, 8)), image.getpixel((24, 56))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # the left edge became the top: red
    assert bottom[2] > 200 and bottom[0] < 60  # blue at the bottom
    assert not image.getexif()


def test_metadata_is_stripped() -> None:
    raw = image_bytes(
        "JPEG",
        (64, 48),
        exif=_exif_with_gps(),
        comment=b"bought at Zhang's, secret",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>GPS 36.19N</x:xmpmeta>",
    )
    original = _open(raw)
    assert b"Exif" in raw and b"GPS" in raw and b"secret" in raw and b"xmpmeta" in raw
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    data = sanitise(raw, **LIMITS).data
    for marker in (b"Exif", b"GPS", b"secret", b"xmpmeta", b"adobe", b"ShopperPhone", b"http://ns"):
        assert marker not in data, marker
    clean = _open(data)
    assert not clean.getexif()
    assert not {"exif", "comment", "xmp", "icc_profile", "photoshop"} & set(clean.info)
    # No APP1 (EXIF/XMP), APP13 (IPTC) or COM segments at all.
    assert b"\xff\xe1" not in data and b"\xff\xed" not in data and b"\xff\xfe" not in data


def test_png_text_chunks_do_not_survive() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: secret")
    raw = image_bytes("PNG", (32, 32), pnginfo=info)
    assert b"secret" in raw
    assert b"secret" not in sanitise(raw, **LIMITS).data


@pytest.mark.parametrize(
    ("fmt", "size"),
    [
        ("JPEG", (4000, 3000)),
        ("JPEG", (3000, 4000)),
        ("JPEG", (2100, 100)),
        ("PNG", (3000, 1000)),
        ("WEBP", (2500, 2500)),
    ],
)
def test_long_side_is_at_most_2048(fmt: str, size: tuple[int, int]) -> None:
    photo = sanitise(image_bytes(fmt, size), **LIMITS)
    # A JPEG decodes at 1/2, 1/4 or 1/8 scale (draft mode), never below 1600 px on the long side.
    assert 1600 <= max(photo.width, photo.height) <= LONG_SIDE
    assert abs(photo.width / photo.height - size[0] / size[1]) < 0.05 * size[0] / size[1]


def test_small_photos_keep_their_size() -> None:
    for size in ((1000, 800), (2048, 10)):
        photo = sanitise(image_bytes("JPEG", size), **LIMITS)
        assert (photo.width, photo.height) == size


def test_transparency_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    pixel = _open(sanitise(out.getvalue(), **LIMITS).data).getpixel((10, 10))
    assert isinstance(pixel, tuple) and min(pixel) > 240


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "LA", "I;16"])
def test_other_colour_modes_become_rgb(mode: str) -> None:
    image = Image.new(mode, (20, 10))
    out = io.BytesIO()
    image.save(out, "JPEG" if mode in ("CMYK", "L") else "PNG")
    photo = sanitise(out.getvalue(), **LIMITS)
    assert _open(photo.data).mode == "RGB"


def test_storage_keys_are_server_made_and_safe(tmp_path: Path) -> None:
    keys = {new_storage_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(key) == 36 and key.endswith(".jpg") for key in keys)
    store = LocalStore(tmp_path)
    for bad in ("../../x.jpg", "/etc/passwd", ".hidden", "发票.jpg", "a/b.jpg"):
        with pytest.raises(ValueError):
            store.put(bad, b"x")
    key = new_storage_key()
    store.put(key, b"photo")
    assert store.get(key) == b"photo"
    assert not list(tmp_path.rglob("*.part"))
