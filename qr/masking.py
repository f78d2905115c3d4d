"""Pick the QR data mask by the ISO/IEC 18004 penalty rules, on whole-symbol bit sets.

segno scores the eight candidate masks module by module in Python, which took most of a
poster's render time. Here a symbol is one integer, rows side by side with light padding
between them, so every penalty rule is a few shifts and ANDs over the whole symbol. The
choice and the result are exactly segno's (tests/qr/test_codes.py checks this).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from qr.symbol import LEVEL_BITS, Cells, format_cells, format_dark, function_cells, version_cells

# Light bits after each row: the penalty rules look at most four modules past an edge.
_PAD = 4
_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
_BIT = bytes.maketrans(b"\x00\x01", b"01")


@dataclass(frozen=True)
class _Geometry:
    """Bit sets for one symbol size, in row-major and column-major order."""

    size: int
    stride: int
    valid: int
    hidden: tuple[int, int]  # format and version areas, light while masks are scored
    flips: tuple[tuple[int, int], ...]  # per mask: modules that differ from mask 0
    formats: dict[tuple[str, int], int]  # per (level, mask): format bits, row-major


def remask(rows: Sequence[Sequence[int]], level: str) -> list[list[bool]]:
    """Return the symbol under its best mask, given it encoded with mask 0 at level."""
    geometry = _geometry(len(rows))
    symbol = _pack(rows, geometry.stride)
    columns = _pack(list(zip(*rows, strict=True)), geometry.stride)
    scored = symbol & ~geometry.hidden[0], columns & ~geometry.hidden[1]
    scores = [_penalty(scored[0] ^ flip, scored[1] ^ flip_t, geometry) for flip, flip_t in geometry.flips]
    best = scores.index(min(scores))  # the first of equal scores, as segno does
    symbol ^= geometry.flips[best][0]
    symbol ^= geometry.formats[level, 0] ^ geometry.formats[level, best]
    return _unpack(symbol, geometry)


def _penalty(rows: int, columns: int, geometry: _Geometry) -> int:
    """Return the N1 + N2 + N3 + N4 penalty of a masked symbol."""
    light, light_t = geometry.valid ^ rows, geometry.valid ^ columns
    n1 = _long_runs(rows) + _long_runs(light) + _long_runs(columns) + _long_runs(light_t)
    stride = geometry.stride
    dark_blocks = rows & rows >> 1 & rows >> stride & rows >> (stride + 1)
    light_blocks = light & light >> 1 & light >> stride & light >> (stride + 1)
    n2 = 3 * (dark_blocks.bit_count() + light_blocks.bit_count())
    n3 = _finder_like(rows, light) + _finder_like(columns, light_t)
    percent = rows.bit_count() / geometry.size**2
    n4 = 10 * int(abs(percent * 100 - 50) / 5)
    return n1 + n2 + n3 + n4


def _long_runs(bits: int) -> int:
    """Score runs of five or more set bits: 3 points, plus 1 per bit beyond five."""
    fives = bits & bits >> 1 & bits >> 2 & bits >> 3 & bits >> 4
    return fives.bit_count() + 2 * (fives & ~(fives >> 1)).bit_count()


def _finder_like(dark: int, light: int) -> int:
    """Score dark-light-dark-dark-dark-light-dark with four light modules on a side."""
    found = dark & light >> 1 & dark >> 2 & dark >> 3 & dark >> 4 & light >> 5 & dark >> 6
    dark_before = dark << 1 | dark << 2 | dark << 3 | dark << 4
    dark_after = dark >> 7 | dark >> 8 | dark >> 9 | dark >> 10
    counted = found & ~(dark_before & dark_after)
    # segno searches each line from the left and skips past what it has judged;
    # matches are rare, so walk them to skip exactly the same overlaps.
    score, resume = 0, 0
    while found:
        lowest = found & -found
        found ^= lowest
        position = lowest.bit_length() - 1
        if position >= resume:
            judged = counted & lowest
            score += 40 if judged else 0
            resume = position + (7 if judged else 4)
    return score


def _pack(rows: Sequence[Sequence[int]], stride: int) -> int:
    """Return rows of 0/1 modules as one integer, module (i, j) at bit i * stride + j."""
    packed = 0
    for row in reversed(rows):
        packed = packed << stride | int(bytes(row)[::-1].translate(_BIT), 2)
    return packed


def _unpack(packed: int, geometry: _Geometry) -> list[list[bool]]:
    """Return the module matrix of a packed symbol."""
    size, stride = geometry.size, geometry.stride
    text = format(packed, "b").zfill(size * stride)[::-1]
    return [[char == "1" for char in text[i * stride : i * stride + size]] for i in range(size)]


@lru_cache(maxsize=8)
def _geometry(size: int) -> _Geometry:
    """Return the bit sets for symbols of one size."""
    stride = size + _PAD
    function = function_cells(size)
    hidden = format_cells(size) | version_cells(size) | {(size - 8, 8)}
    region = [(i, j) for i in range(size) for j in range(size) if (i, j) not in function]
    flips = []
    for mask in _MASKS:
        differs = {(i, j) for i, j in region if mask(i, j) != _MASKS[0](i, j)}
        flips.append((_bits(differs, stride), _bits(_transpose(differs), stride)))
    return _Geometry(
        size=size,
        stride=stride,
        valid=_bits({(i, j) for i in range(size) for j in range(size)}, stride),
        hidden=(_bits(hidden, stride), _bits(_transpose(hidden), stride)),
        flips=tuple(flips),
        formats={
            (level, mask): _bits(format_dark(size, level, mask), stride)
            for level in LEVEL_BITS
            for mask in range(len(_MASKS))
        },
    )


def _bits(cells: Cells, stride: int) -> int:
    """Return a set of (row, column) cells as a row-major bit set."""
    return sum(1 << (i * stride + j) for i, j in cells)


def _transpose(cells: Cells) -> Cells:
    """Return the cells mirrored across the diagonal."""
    return {(j, i) for i, j in cells}
