"""Registering merchants from a regulator's file: check every row, then import all or none."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.categories import category_from_text
from portal.creditcode import ALPHABET, check_character
from portal.import_files import RawRow
from portal.models import Market, Merchant
from portal.register import add_merchant

_YES = {"yes", "y", "true", "1", "是", "有", "已签", "已承诺"}
_NO = {"no", "n", "false", "0", "否", "无", "未签", ""}
_PHONE = re.compile(r"^[0-9+\-() ]{5,32}$")
_LIMITS = {"name": 120, "address": 200}


class ImportRefusedError(ValueError):
    """The file has bad rows and the importer did not ask to import only the valid ones."""


@dataclass(frozen=True)
class MerchantRow:
    """A checked row, ready to register."""

    line: int
    name: str
    credit_code: str
    market: Market | None
    unit_id: int
    category: str
    address: str
    phone: str
    signed_commitment: bool


@dataclass(frozen=True)
class RowError:
    """Why one line of the file cannot be imported."""

    line: int
    message: object  # a lazy translated string


@dataclass
class ImportCheck:
    """The verdict on a whole file: new merchants, lines already registered, errors."""

    new: list[MerchantRow] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Tell whether every row can be imported."""
        return not self.errors


def _credit_code(raw: str) -> tuple[str | None, object | None]:
    """Return the normalised code, or the reason it is not a valid credit code."""
    code = raw.replace(" ", "").upper()
    if not code:
        return None, _l("The credit code is missing.")
    if len(code) != 18:
        return None, _l("The credit code must have 18 characters, not %(n)s.", n=len(code))
    bad = next((char for char in code if char not in ALPHABET), None)
    if bad is not None:
        return None, _l("The credit code contains %(char)s, which is not allowed.", char=bad)
    # GB 32100-2015: the 18th character is a checksum of the first 17.
    if check_character(code[:17]) != code[17]:
        return None, _l("The credit code's check character is wrong; check for a typo.")
    return code, None


class _Markets:
    """Find a market by name among those the importer may register merchants in."""

    def __init__(self, session: Session, allowed: Sequence[Market]) -> None:
        self.session = session
        self.by_name: dict[str, list[Market]] = {}
        for market in allowed:
            self.by_name.setdefault(market.name.strip(), []).append(market)

    def find(self, name: str) -> tuple[Market | None, object | None]:
        """Return the market, or why the name does not name one in scope."""
        found = self.by_name.get(name, [])
        if len(found) == 1:
            return found[0], None
        if found:
            return None, _l("More than one market is called %(name)s.", name=name)
        elsewhere = self.session.scalar(select(Market.id).where(Market.name == name).limit(1))
        if elsewhere is not None:
            return None, _l("The market %(name)s is not in your area.", name=name)
        return None, _l("There is no market called %(name)s.", name=name)


def _check_row(
    row: RawRow, markets: _Markets, default_unit_id: int | None
) -> tuple[MerchantRow | None, list[object]]:
    """Check one row's fields; return the row or every reason it is bad."""
    value = row.values.get
    problems: list[object] = []
    for name, label in (("name", _l("name")), ("address", _l("address")), ("phone", _l("phone"))):
        if not value(name, ""):
            problems.append(_l("The %(field)s is missing.", field=label))
        elif len(value(name, "")) > _LIMITS.get(name, 32):
            problems.append(_l("The %(field)s is too long.", field=label))
    if value("phone") and not _PHONE.match(value("phone", "")):
        problems.append(_l("The phone number %(phone)s is not a phone number.", phone=value("phone")))
    code, reason = _credit_code(value("credit_code", ""))
    problems += [reason] if reason is not None else []
    market: Market | None = None
    if value("market"):
        market, reason = markets.find(value("market", ""))
        problems += [reason] if reason is not None else []
    elif default_unit_id is None:
        problems.append(_l("The market is missing."))
    category = category_from_text(value("category", ""))
    if category is None:
        problems.append(_l("Unknown category %(text)s.", text=value("category") or "-"))
    commitment = value("commitment", "").lower()
    if commitment not in _YES | _NO:
        problems.append(
            _l("Double commitment must be yes or no (是/否), not %(text)s.", text=value("commitment"))
        )
    if problems or code is None or category is None:
        return None, problems
    unit_id = market.unit_id if market is not None else default_unit_id
    assert unit_id is not None
    return MerchantRow(
        line=row.line,
        name=value("name", ""),
        credit_code=code,
        market=market,
        unit_id=unit_id,
        category=category,
        address=value("address", ""),
        phone=value("phone", ""),
        signed_commitment=commitment in _YES,
    ), []


def _same(merchant: Merchant, row: MerchantRow) -> bool:
    """Tell whether the registered merchant already says exactly what the row says."""
    return (
        merchant.name == row.name
        and merchant.address == row.address
        and merchant.phone == row.phone
        and merchant.category == row.category
        and merchant.market_id == (row.market.id if row.market else None)
        and merchant.unit_id == row.unit_id
        and merchant.signed_commitment == row.signed_commitment
    )


def _registered(session: Session, codes: list[str]) -> dict[str, Merchant]:
    """Return the merchants already registered under any of the credit codes."""
    found: dict[str, Merchant] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for merchant in session.scalars(select(Merchant).where(Merchant.credit_code.in_(chunk))):
            found[merchant.credit_code] = merchant
    return found


def check_register(
    session: Session, rows: Sequence[RawRow], *, markets: Sequence[Market], default_unit_id: int | None = None
) -> ImportCheck:
    """Check every row: fields, credit code, market in scope, duplicates in file and register."""
    finder, result = _Markets(session, markets), ImportCheck()
    checked: list[MerchantRow] = []
    first_line: dict[str, int] = {}
    for row in rows:
        merchant_row, problems = _check_row(row, finder, default_unit_id)
        if merchant_row is not None and merchant_row.credit_code in first_line:
            problems = [
                _l(
                    "The same credit code is already on line %(line)s.",
                    line=first_line[merchant_row.credit_code],
                )
            ]
        elif merchant_row is not None:
            first_line[merchant_row.credit_code] = row.line
            checked.append(merchant_row)
        result.errors += [RowError(row.line, problem) for problem in problems]
    registered = _registered(session, [row.credit_code for row in checked])
    for merchant_row in checked:
        existing = registered.get(merchant_row.credit_code)
        if existing is None:
            result.new.append(merchant_row)
        elif _same(existing, merchant_row):
            result.unchanged.append(merchant_row.line)
        else:
            result.errors.append(
                RowError(
                    merchant_row.line,
                    _l(
                        "The credit code %(code)s is already registered with different data.",
                        code=merchant_row.credit_code,
                    ),
                )
            )
    result.errors.sort(key=lambda error: error.line)
    return result


def import_register(
    session: Session, check: ImportCheck, *, valid_only: bool, now: datetime
) -> list[Merchant]:
    """Register every new merchant with a poster code; refuse a file with errors unless asked."""
    if check.errors and not valid_only:
        raise ImportRefusedError(f"{len(check.errors)} bad row(s); nothing was imported")
    return [
        add_merchant(
            session,
            name=row.name,
            address=row.address,
            phone=row.phone,
            category=row.category,
            credit_code=row.credit_code,
            unit_id=row.unit_id,
            market=row.market,
            signed_commitment=row.signed_commitment,
            now=now,
        )
        for row in check.new
    ]
