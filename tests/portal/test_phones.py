"""Mainland mobile numbers: what shoppers type is normalised, landlines and typos refused."""

from __future__ import annotations

import pytest

from portal.phones import PhoneError, mask, normalise_mobile, phone_digest


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "１３８００１３８０００",  # full-width digits from a Chinese input method
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "＋８６１３８００１３８０００",
        "+8613800138000",
        "008613800138000",
        "(+86) 138.0013.8000",
        " 13800138000\t",
    ],
)
def test_typed_mobile_numbers_are_normalised(typed: str) -> None:
    assert normalise_mobile(typed) == "13800138000"


@pytest.mark.parametrize(
    "typed",
    [
        "0355-2021234",  # a landline in Changzhi
        "03552021234",
        "010-12345678",
        "138001380001",  # 12 digits
        "1380013800",  # 10 digits
        "12345678901",  # no such mobile prefix
        "+1 202 555 0123",  # not mainland
        "+852 9123 4567",  # Hong Kong
        "10086",
        "abc",
        "",
        "   ",
    ],
)
def test_landlines_typos_and_foreign_numbers_are_refused(typed: str) -> None:
    with pytest.raises(PhoneError):
        normalise_mobile(typed)


def test_mask_shows_three_and_four_digits() -> None:
    assert mask("13800138000") == "138****8000"
    assert mask(None) == ""
    assert mask("12345") == "*****"


def test_digest_depends_on_the_salt_and_hides_the_number() -> None:
    one = phone_digest("13800138000", "salt-a")
    assert one != phone_digest("13800138000", "salt-b")
    assert "13800138000" not in one
    assert len(one) == 64
