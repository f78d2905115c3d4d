"""Find a CJK font that both reportlab and Pillow can draw posters with."""

import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_ENV = "KUAISU_CJK_FONT"
DEBIAN_PACKAGE = "fonts-wqy-microhei"
DEFAULT_SEARCH_PATHS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)
# Best first. Only fonts with TrueType (glyf) outlines: reportlab refuses the
# PostScript outlines of Noto CJK / Source Han OTF and TTC files.
KNOWN_FONT_FILES = (
    "wqy-microhei.ttc",
    "wqy-microhei.ttf",
    "wqy-zenhei.ttc",
    "wqy-zenhei.ttf",
)
_TRUETYPE_VERSIONS = (b"\x00\x01\x00\x00", b"true")


@dataclass(frozen=True)
class FontRef:
    """A font file and the index of the face inside it (0 unless a .ttc collection)."""

    path: str
    index: int = 0


class FontNotFoundError(Exception):
    """No usable CJK font was configured or installed."""


def find_cjk_font(
    environ: Mapping[str, str] | None = None,
    search_paths: Sequence[str] | None = None,
) -> FontRef:
    """Return the configured CJK font, else an installed one, else raise FontNotFoundError."""
    env = os.environ if environ is None else environ
    configured = env.get(FONT_ENV, "").strip()
    if configured:
        return _configured_font(configured)
    paths = DEFAULT_SEARCH_PATHS if search_paths is None else search_paths
    for found in _find_known_files(paths):
        if has_truetype_outlines(found, 0):
            return FontRef(str(found), 0)
    raise FontNotFoundError(
        f"No CJK TrueType font found in {', '.join(paths)}. "
        f"Install the Debian package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}) "
        f"or set {FONT_ENV}=/path/to/font.ttc:index."
    )


def missing_glyphs(text: str, font: FontRef) -> set[str]:
    """Return the characters of text that the font cannot draw, ignoring whitespace."""
    char_to_glyph = load_ttfont(font).face.charToGlyph
    return {char for char in text if not char.isspace() and not char_to_glyph.get(ord(char))}


@lru_cache(maxsize=4)
def load_ttfont(font: FontRef) -> TTFont:
    """Parse the font once per process and register it with reportlab."""
    # A name per file and face, so two configured fonts never shadow each other.
    name = f"KuaisuCJK-{zlib.crc32(font.path.encode()):08x}-{font.index}"
    ttfont = TTFont(name, font.path, subfontIndex=font.index)
    pdfmetrics.registerFont(ttfont)
    return ttfont


def has_truetype_outlines(path: str | Path, index: int) -> bool:
    """Tell whether face `index` of a .ttf/.ttc file has TrueType outlines."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12 + 4 * (index + 1))
            if head[:4] == b"ttcf":
                count = struct.unpack(">I", head[8:12])[0]
                if index >= count:
                    return False
                (offset,) = struct.unpack(">I", head[12 + 4 * index : 16 + 4 * index])
                handle.seek(offset)
                return handle.read(4) in _TRUETYPE_VERSIONS
            return index == 0 and head[:4] in _TRUETYPE_VERSIONS
    except (OSError, struct.error):
        return False


def _configured_font(value: str) -> FontRef:
    """Parse a KUAISU_CJK_FONT value, "path" or "path:index", and check the file."""
    path, _, suffix = value.rpartition(":")
    font = FontRef(path, int(suffix)) if path and suffix.isdigit() else FontRef(value, 0)
    if not os.path.isfile(font.path):
        raise FontNotFoundError(
            f"{FONT_ENV} points to {font.path}, which does not exist. "
            f"Install {DEBIAN_PACKAGE} or fix the path."
        )
    if not has_truetype_outlines(font.path, font.index):
        raise FontNotFoundError(
            f"{FONT_ENV}={value} is not a TrueType-outline face that reportlab can embed "
            f"(OpenType/CFF fonts such as Noto CJK are not). Install {DEBIAN_PACKAGE}."
        )
    return font


def _find_known_files(search_paths: Sequence[str]) -> list[Path]:
    """Return the known font files under the search paths, best font first."""
    found: list[tuple[int, int, Path]] = []
    for order, root in enumerate(search_paths):
        for folder, _dirs, files in os.walk(Path(root).expanduser()):
            for name in files:
                if name in KNOWN_FONT_FILES:
                    rank = KNOWN_FONT_FILES.index(name)
                    found.append((rank, order, Path(folder, name)))
    return [path for _rank, _order, path in sorted(found)]
