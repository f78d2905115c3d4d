"""Registering merchants from CSV and XLSX: every bad row by line, all or nothing, idempotent."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cli import cli
from portal.creditcode import check_character
from portal.import_files import ImportFileError, read_register
from portal.importer import ImportRefusedError, check_register, import_register
from portal.models import Market, Merchant, PosterCode, RegulatorUnit
from tests.conftest import NOW
from tests.factories import Factory

HEADER_ZH = "商户名称,统一社会信用代码,所属市场,行业类别,地址,联系电话,双承诺"
HEADER_EN = "name,credit_code,market,category,address,phone,commitment"


def code(n: int) -> str:
    """Return a valid credit code numbered n."""
    body = f"91140402MA2{n:06d}"
    return body + check_character(body)


def bad_checksum(n: int) -> str:
    """Return code(n) with a wrong check character."""
    good = code(n)
    return good[:17] + ("0" if good[17] != "0" else "1")


@pytest.fixture
def area(factory: Factory) -> tuple[RegulatorUnit, Market, Market]:
    """A regulator's office with one market, and another office's market next door."""
    office = factory.make_unit("英雄南路市场监管所")
    market = factory.make_market(office, name="万博装饰市场")
    other = factory.make_market(factory.make_unit("别的所"), name="紫金街农贸市场")
    return office, market, other


def in_scope(session: Session, office: RegulatorUnit) -> list[Market]:
    """Return the markets a regulator of the office may register merchants in."""
    return list(session.scalars(select(Market).where(Market.unit_id == office.id)))


def merchants(session: Session) -> int:
    """Count registered merchants, as committed now."""
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(Merchant)) or 0)


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    """Join CSV lines into a file in the given encoding."""
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


GOOD = [
    f"张记瓷砖,{code(1)},万博装饰市场,quality,A区12号,13935501201,是",
    f"鑫隆卫浴,{code(2)},万博装饰市场,产品质量,A区27号,0355-2021234,no",
    f"美家地板,{code(3)},万博装饰市场,价格,B区3号,13935501203,",
]


def test_clean_file_imports_every_row_with_a_poster_code(
    session: Session, area: tuple[RegulatorUnit, Market, Market]
) -> None:
    office, market, _other = area
    rows = read_register("商户.csv", csv_bytes(HEADER_ZH, *GOOD))
    check = check_register(session, rows, markets=in_scope(session, office))
    assert check.clean and [row.line for row in check.new] == [2, 3, 4]
    created = import_register(session, check, valid_only=False, now=NOW)
    session.commit()
    assert [m.name for m in created] == ["张记瓷砖", "鑫隆卫浴", "美家地板"]
    assert [m.category for m in created] == ["quality", "quality", "price"]
    assert [m.signed_commitment for m in created] == [True, False, False]
    assert all(m.market_id == market.id and m.unit_id == office.id for m in created)
    codes = session.scalars(
        select(PosterCode).where(
            PosterCode.merchant_id.in_([m.id for m in created]), PosterCode.revoked_at.is_(None)
        )
    )
    assert len(list(codes)) == 3


def test_every_kind_of_bad_row_is_reported_at_its_line_and_nothing_is_imported(
    session: Session, factory: Factory, area: tuple[RegulatorUnit, Market, Market]
) -> None:
    office, market, _other = area
    registered = factory.make_merchant(market, name="老店")
    lines = [
        HEADER_EN,
        GOOD[0],  # 2 fine
        f"坏校验,{bad_checksum(4)},万博装饰市场,food,地址,13900000004,yes",  # 3
        f",{code(5)},万博装饰市场,food,地址,13900000005,yes",  # 4 no name
        f"无市场,{code(6)},不存在市场,food,地址,13900000006,yes",  # 5
        f"越界,{code(7)},紫金街农贸市场,food,地址,13900000007,yes",  # 6
        f"怪类别,{code(8)},万博装饰市场,珠宝,地址,13900000008,yes",  # 7
        f"承诺,{code(9)},万博装饰市场,food,地址,13900000009,maybe",  # 8
        f"重复,{code(1)},万博装饰市场,food,地址,13900000010,yes",  # 9 = line 2
        f"冒名,{registered.credit_code},万博装饰市场,food,地址,13900000011,yes",  # 10
        "短码,12345,万博装饰市场,food,地址,13900000012,yes",  # 11
        f"无电话,{code(13)},万博装饰市场,food,地址,,yes",  # 12
    ]
    check = check_register(
        session, read_register("x.csv", csv_bytes(*lines)), markets=in_scope(session, office)
    )
    with force_locale("en"):
        found = {(error.line, str(error.message)) for error in check.errors}
    by_line = {line: message for line, message in found}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "check character" in by_line[3]
    assert "name is missing" in by_line[4]
    assert "no market called 不存在市场" in by_line[5]
    assert "not in your area" in by_line[6]
    assert "Unknown category 珠宝" in by_line[7]
    assert "maybe" in by_line[8]
    assert "line 2" in by_line[9]
    assert "already registered with different data" in by_line[10]
    assert "18 characters" in by_line[11]
    assert "phone is missing" in by_line[12]

    before = merchants(session)
    with pytest.raises(ImportRefusedError):
        import_register(session, check, valid_only=False, now=NOW)
    session.commit()
    assert merchants(session) == before


def test_valid_only_imports_the_good_rows_and_reports_the_skipped(
    session: Session, area: tuple[RegulatorUnit, Market, Market]
) -> None:
    office, _market, _other = area
    lines = [HEADER_ZH, GOOD[0], f"坏,{bad_checksum(4)},万博装饰市场,food,地址,13900000004,是", GOOD[1]]
    check = check_register(
        session, read_register("x.csv", csv_bytes(*lines)), markets=in_scope(session, office)
    )
    created = import_register(session, check, valid_only=True, now=NOW)
    session.commit()
    assert [m.name for m in created] == ["张记瓷砖", "鑫隆卫浴"]
    assert [error.line for error in check.errors] == [3]


def test_reimporting_the_same_file_changes_nothing(
    session: Session, area: tuple[RegulatorUnit, Market, Market]
) -> None:
    office, _market, _other = area
    data = csv_bytes(HEADER_ZH, *GOOD)
    first = check_register(session, read_register("x.csv", data), markets=in_scope(session, office))
    import_register(session, first, valid_only=False, now=NOW)
    session.commit()
    codes = set(session.scalars(select(PosterCode.code)))

    again = check_register(session, read_register("x.csv", data), markets=in_scope(session, office))
    assert again.clean and again.new == [] and again.unchanged == [2, 3, 4]
    assert import_register(session, again, valid_only=False, now=NOW) == []
    session.commit()
    assert merchants(session) == 3 and set(session.scalars(select(PosterCode.code))) == codes


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_excel_encodings_are_read(
    encoding: str, session: Session, area: tuple[RegulatorUnit, Market, Market]
) -> None:
    office, _market, _other = area
    data = csv_bytes(HEADER_ZH, *GOOD, encoding=encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    rows = read_register("商户.csv", data)
    assert rows[0].values["name"] == "张记瓷砖" and rows[0].line == 2
    assert check_register(session, rows, markets=in_scope(session, office)).clean


def test_xlsx_is_read_with_line_numbers(session: Session, area: tuple[RegulatorUnit, Market, Market]) -> None:
    from openpyxl import Workbook

    office, _market, _other = area
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER_ZH.split(","))
    sheet.append(GOOD[0].split(","))
    sheet.append([None] * 7)  # a blank row is skipped, but still counts as a line
    sheet.append(["坏", bad_checksum(4), "万博装饰市场", "food", "地址", 13900000004, "是"])
    out = io.BytesIO()
    book.save(out)
    rows = read_register("商户.xlsx", out.getvalue())
    assert [row.line for row in rows] == [2, 4]
    assert rows[1].values["phone"] == "13900000004"  # a number cell, not "13900000004.0"
    check = check_register(session, rows, markets=in_scope(session, office))
    assert [error.line for error in check.errors] == [4] and len(check.new) == 1


def test_quoted_newline_keeps_later_line_numbers_right(
    session: Session, area: tuple[RegulatorUnit, Market, Market]
) -> None:
    lines = [
        HEADER_EN,
        f'"张记\n瓷砖",{code(1)},万博装饰市场,food,"A区",139,yes',
        f"x,{bad_checksum(2)},万博装饰市场,food,a,13900000002,yes",
    ]
    rows = read_register("x.csv", csv_bytes(*lines))
    assert [row.line for row in rows] == [2, 4]


def test_unreadable_files_are_refused_whole() -> None:
    with pytest.raises(ImportFileError, match="missing column"):
        read_register("x.csv", csv_bytes("name,phone", "a,1"))
    with pytest.raises(ImportFileError, match="empty"):
        read_register("x.csv", b"")
    with pytest.raises(ImportFileError, match="spreadsheet"):
        read_register("x.xlsx", b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="xls"):
        read_register("old.xls", b"\xd0\xcf\x11\xe0")


def test_cli_import_refuses_a_bad_file_then_imports_the_valid_rows(
    app: Flask, session: Session, area: tuple[RegulatorUnit, Market, Market], tmp_path: Path
) -> None:
    runner: FlaskCliRunner = app.test_cli_runner()
    path = tmp_path / "商户.csv"
    path.write_bytes(
        csv_bytes(
            HEADER_ZH, GOOD[0], f"坏,{bad_checksum(4)},万博装饰市场,food,a,13900000004,是", encoding="gb18030"
        )
    )
    refused = runner.invoke(cli, ["merchants", "import", str(path)])
    assert refused.exit_code == 1
    assert "line 3:" in refused.output and "nothing was imported" in refused.output
    assert merchants(session) == 0

    done = runner.invoke(cli, ["merchants", "import", str(path), "--valid-only"])
    assert done.exit_code == 0, done.output
    assert "imported 1" in done.output and "skipped 1 (lines 3)" in done.output
    again = runner.invoke(cli, ["merchants", "import", str(path), "--valid-only"])
    assert "imported 0, already registered 1" in again.output
    assert merchants(session) == 1
