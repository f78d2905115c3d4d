"""Where a QR symbol's fixed patterns and format information sit (ISO/IEC 18004 §6, §7.9)."""

Cells = set[tuple[int, int]]
LEVEL_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}
_FINDER = 8  # finder pattern with its separator, in modules
_ALIGNMENT_RADIUS = 2
_FIRST_VERSION_WITH_INFO = 7


def version_of(size: int) -> int:
    """Return the version of a symbol size modules wide."""
    return (size - 17) // 4


def alignment_positions(version: int) -> list[int]:
    """Return the row and column centres of alignment patterns (Annex E)."""
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    size = version * 4 + 17
    return [6] + [size - 7 - i * step for i in reversed(range(count - 1))]


def function_cells(size: int) -> Cells:
    """Return every module outside the encoding region, which masks leave alone."""
    cells: Cells = set()
    far = size - _FINDER
    for top, left in ((0, 0), (0, far), (far, 0)):
        cells |= {(top + i, left + j) for i in range(_FINDER) for j in range(_FINDER)}
    cells |= {(6, k) for k in range(size)} | {(k, 6) for k in range(size)}
    positions = alignment_positions(version_of(size))
    corners = (
        {(positions[0], positions[0]), (positions[0], positions[-1]), (positions[-1], positions[0])}
        if positions
        else set()
    )
    radius = range(-_ALIGNMENT_RADIUS, _ALIGNMENT_RADIUS + 1)
    for row in positions:
        for column in positions:
            if (row, column) not in corners:
                cells |= {(row + i, column + j) for i in radius for j in radius}
    return cells | format_cells(size) | version_cells(size) | {(size - 8, 8)}


def version_cells(size: int) -> Cells:
    """Return the two 6x3 version information blocks (versions 7 and up)."""
    if version_of(size) < _FIRST_VERSION_WITH_INFO:
        return set()
    block = {(i, size - 11 + j) for i in range(6) for j in range(3)}
    return block | {(j, i) for i, j in block}


def format_cells(size: int) -> Cells:
    """Return the 30 modules of both copies of the format information."""
    return set(_format_layout(size))


def format_dark(size: int, level: str, mask: int) -> Cells:
    """Return the format information modules that are dark for a level and mask."""
    bits = format_bits(level, mask)
    return {cell for cell, bit in _format_layout(size).items() if bits >> bit & 1}


def format_bits(level: str, mask: int) -> int:
    """Return the 15-bit BCH-coded format information (§7.9.1)."""
    data = LEVEL_BITS[level] << 3 | mask
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder) ^ 0x5412


def _format_layout(size: int) -> dict[tuple[int, int], int]:
    """Map each format information module to the bit it carries."""
    layout = {(i, 8): i for i in range(6)}
    layout |= {(7, 8): 6, (8, 8): 7, (8, 7): 8}
    layout |= {(8, 14 - i): i for i in range(9, 15)}
    layout |= {(8, size - 1 - i): i for i in range(8)}
    layout |= {(size - 15 + i, 8): i for i in range(8, 15)}
    return layout
