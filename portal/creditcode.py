"""The unified social credit code (统一社会信用代码) and its GB 32100-2015 check character."""

from __future__ import annotations

import unicodedata

# GB 32100-2015 leaves out I, O, Z, S and V, which are easily confused.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class CreditCodeError(ValueError):
    """The text is not a valid unified social credit code."""


def check_character(body: str) -> str:
    """Return the 18th character for the first 17 (GB 32100-2015, section 5)."""
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(raw: str) -> str:
    """Return the code upper-cased without spaces, or raise CreditCodeError with the reason."""
    code = unicodedata.normalize("NFKC", raw).replace(" ", "").strip().upper()
    if len(code) != 18:
        raise CreditCodeError("must be 18 characters")
    bad = [char for char in code if char not in ALPHABET]
    if bad:
        raise CreditCodeError(f"character {bad[0]!r} is not allowed")
    if check_character(code[:17]) != code[17]:
        raise CreditCodeError("check character does not match")
    return code
