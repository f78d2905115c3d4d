"""The unified social credit code and its GB 32100-2015 check character."""

from __future__ import annotations

import pytest

from portal.creditcode import ALPHABET, WEIGHTS, CreditCodeError, check_character, normalise_credit_code


def test_weights_are_powers_of_three_mod_31() -> None:
    # GB 32100-2015 section 5: W_i = 3^(i-1) mod 31.
    assert tuple(pow(3, i, 31) for i in range(17)) == WEIGHTS


def test_alphabet_leaves_out_confusable_letters() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOZSV") & set(ALPHABET)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the standard's own example
        "91110108551385082Q",
        "914403001922038216",
        "9111000071093123XX",
    ],
)
def test_known_valid_codes(code: str) -> None:
    assert normalise_credit_code(code) == code
    assert check_character(code[:17]) == code[17]


def test_lower_case_spaces_and_full_width_are_normalised() -> None:
    assert normalise_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert normalise_credit_code("9135 0100 M000 100Y 43") == "91350100M000100Y43"
    assert normalise_credit_code("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_wrong_check_character_is_refused() -> None:
    with pytest.raises(CreditCodeError, match="check character"):
        normalise_credit_code("91350100M000100Y44")


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "-", "中"])
def test_letters_outside_the_alphabet_are_refused(bad: str) -> None:
    code = "91350100M000100Y4" + bad
    with pytest.raises(CreditCodeError, match="not allowed"):
        normalise_credit_code(code)
    with pytest.raises(CreditCodeError, match="not allowed"):
        normalise_credit_code(bad + "1350100M000100Y43")


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_wrong_length_is_refused(code: str) -> None:
    with pytest.raises(CreditCodeError, match="18 characters"):
        normalise_credit_code(code)
