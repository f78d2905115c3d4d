"""QR codes: URL, error correction, quiet zone, and the fast mask choice."""

import random
import string

import pytest
import segno
import zxingcpp
from PIL import Image

from qr.codes import QUIET_ZONE, dark_runs, poster_url, qr_matrix
from qr.symbol import alignment_positions


def _image(matrix: list[list[bool]], module: int = 8) -> Image.Image:
    """Draw a matrix with a quiet zone, as a scanner would see it."""
    size = len(matrix) + 2 * QUIET_ZONE
    image = Image.new("L", (size, size), 255)
    for row, column, length in dark_runs(matrix):
        for offset in range(length):
            image.putpixel((QUIET_ZONE + column + offset, QUIET_ZONE + row), 0)
    return image.resize((size * module, size * module), Image.Resampling.NEAREST)


def test_poster_url_joins_base_and_code() -> None:
    assert poster_url("https://ks.example.cn/", "AB12CD34EF") == "https://ks.example.cn/c/AB12CD34EF"
    assert poster_url("https://ks.example.cn", "X") == "https://ks.example.cn/c/X"


def test_matrix_decodes_with_at_least_q_error_correction() -> None:
    url = poster_url("https://ks.example.cn", "AB12CD34EF")
    (result,) = zxingcpp.read_barcodes(_image(qr_matrix(url)))
    assert result.text == url
    assert result.ec_level in {"Q", "H"}


def test_matrix_has_no_border() -> None:
    matrix = qr_matrix("https://ks.example.cn/c/AB12CD34EF")
    assert all(len(row) == len(matrix) for row in matrix)
    # The finder pattern starts in the very first module: no quiet zone is included.
    assert matrix[0][:7] == [True] * 7
    assert matrix[6][:7] == [True] * 7


def test_dark_runs_cover_exactly_the_dark_modules() -> None:
    matrix = qr_matrix("https://ks.example.cn/c/AB12CD34EF")
    covered = {(row, column + i) for row, column, length in dark_runs(matrix) for i in range(length)}
    dark = {(r, c) for r, line in enumerate(matrix) for c, is_dark in enumerate(line) if is_dark}
    assert covered == dark


@pytest.mark.parametrize("length", [1, 12, 30, 60, 90, 140, 200, 300])
def test_mask_choice_matches_segno(length: int) -> None:
    """The bit-set penalty scoring picks exactly the mask segno's own search picks."""
    rng = random.Random(length)
    alphabet = string.ascii_letters + string.digits
    for _ in range(12):
        url = "https://ks.example.cn/c/" + "".join(rng.choices(alphabet, k=length))
        reference = segno.make(url, error="q", boost_error=True, micro=False)
        assert qr_matrix(url) == [[bool(m) for m in row] for row in reference.matrix]


def test_alignment_positions_match_the_standard_table() -> None:
    from segno import consts

    for version in range(2, 41):
        assert tuple(alignment_positions(version)) == tuple(consts.ALIGNMENT_POS[version - 2])
