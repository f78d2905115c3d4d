"""Poster URLs and the QR module matrices printed on posters."""

from collections.abc import Iterator, Sequence

import segno

from qr.masking import remask

# ISO/IEC 18004 asks for a light margin of four modules around the symbol.
QUIET_ZONE = 4


def poster_url(base_url: str, poster_code: str) -> str:
    """Return the URL a poster's QR code points to."""
    return f"{base_url.rstrip('/')}/c/{poster_code}"


def qr_matrix(url: str) -> list[list[bool]]:
    """Encode a URL as a QR module matrix, dark modules True, without a quiet zone."""
    # Q keeps a poster readable with a quarter of the code scratched or dirty;
    # boost_error raises it to H whenever that costs no extra modules.
    # segno's own mask search is slow; encode with mask 0 and let remask choose.
    code = segno.make(url, error="q", boost_error=True, micro=False, mask=0)
    return remask(code.matrix, code.error)


def dark_runs(matrix: Sequence[Sequence[bool]]) -> Iterator[tuple[int, int, int]]:
    """Yield (row, first column, length) for each horizontal run of dark modules."""
    for row_index, row in enumerate(matrix):
        start = -1
        for column, dark in enumerate(row):
            if dark and start < 0:
                start = column
            elif not dark and start >= 0:
                yield row_index, start, column - start
                start = -1
        if start >= 0:
            yield row_index, start, len(row) - start
