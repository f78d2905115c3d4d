"""Mainland mobile numbers: normalise what shoppers type, mask what staff see (and names too)."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache

import phonenumbers

_SEPARATORS = re.compile(r"[\s\-()（）.]+")


class PhoneError(ValueError):
    """The text is not a mainland China mobile number."""


@lru_cache(maxsize=4096)
def normalise_mobile(raw: str) -> str:
    """Return the 11-digit national number for a typed mainland mobile number."""
    # Full-width digits and ＋ come from Chinese input methods; NFKC folds them to ASCII.
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if not text:
        raise PhoneError("empty")
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(str(exc)) from exc
    kind = phonenumbers.number_type(parsed)
    mobile = kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed) or not mobile:
        raise PhoneError("not a mainland mobile number")
    return str(parsed.national_number)


def mask(phone: str | None) -> str:
    """Return 138****8000 for 13800138000; never reveal more than 3 + 4 digits."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def phone_digest(phone: str, salt: str) -> str:
    """Return a salted hash of a phone for the audit chain; the number itself stays out."""
    return hmac.new(salt.encode(), phone.encode(), hashlib.sha256).hexdigest()


def mask_name(name: str | None) -> str:
    """Return 李** for 李女士: the family name only (PIPL: show only what is needed)."""
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)
