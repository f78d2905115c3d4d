"""The dashboard, its drill-down, exports (with masking and the audit log) and the monthly report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from portal.models import AuditLog, User
from tests.conftest import NOW
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as

PHONE = "13912345678"


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


@pytest.fixture
def world(factory: Factory) -> dict[str, object]:
    """A district with two offices, each with a market, a shop and cases; staff of every role."""
    district = factory.make_unit("潞州区市场监督管理局", level="district")
    east = factory.make_unit("东街市场监管所", parent=district)
    west = factory.make_unit("西街市场监管所", parent=district)
    east_market = factory.make_market(east, name="东街市场")
    west_market = factory.make_market(west, name="西街市场")
    east_shop = factory.make_merchant(east_market, name="东街瓷砖")
    west_shop = factory.make_merchant(west_market, name="西街水果")
    east_cases = [
        factory.make_complaint(east_shop, now=NOW - timedelta(days=d), phone=PHONE, name="王小明").complaint
        for d in (1, 2, 3)
    ]
    west_cases = [factory.make_complaint(west_shop, now=NOW - timedelta(days=1)).complaint]
    return {
        "district": district,
        "east_market": east_market,
        "west_market": west_market,
        "east_shop": east_shop,
        "east_cases": east_cases,
        "west_cases": west_cases,
        "regulator": make_user(factory.session, "regulator", unit=district),
        "station": make_user(factory.session, "station", market=east_market),
        "merchant": make_user(factory.session, "merchant", merchant=east_shop),
        "admin": make_user(factory.session, "admin"),
    }


def _client(app: Flask, user: object) -> FlaskClient:
    client = app.test_client()
    assert isinstance(user, User)
    login_as(client, user)
    return client


def test_regulator_sees_the_district_and_narrows_to_a_market(app: Flask, world: dict) -> None:
    client = _client(app, world["regulator"])
    page = client.get("/office/insight").get_data(as_text=True)
    assert "办结率" in page and "<svg" in page and "东街瓷砖" in page and "西街水果" in page
    # Nothing is closed yet: the figure says 0, not nothing.
    assert 'data-metric="closed"><span class="v">0</span>' in page
    assert 'data-metric="received"><span class="v">4</span>' in page
    market = world["east_market"]
    narrowed = client.get(f"/office/insight?market={market.id}").get_data(as_text=True)
    top_shops = narrowed.split('id="top-shops"')[1].split("</section>")[0]
    assert "东街瓷砖" in top_shops and "西街水果" not in top_shops
    listed = client.get(f"/office/insight/cases?metric=received&market={market.id}").get_data(as_text=True)
    assert all(c.case_number in listed for c in world["east_cases"])
    assert world["west_cases"][0].case_number not in listed


def test_station_sees_only_its_market(app: Flask, world: dict) -> None:
    client = _client(app, world["station"])
    page = client.get("/office/insight/cases?metric=received").get_data(as_text=True)
    assert world["west_cases"][0].case_number not in page
    assert client.get(f"/office/insight?market={world['west_market'].id}").status_code == 404


def test_merchant_sees_only_its_shop(app: Flask, world: dict) -> None:
    client = _client(app, world["merchant"])
    page = client.get("/office/insight").get_data(as_text=True)
    assert "西街水果" not in page
    assert client.get("/office/insight/cases?metric=nope").status_code == 404


def test_a_bad_period_falls_back_to_the_default(app: Flask, world: dict) -> None:
    client = _client(app, world["regulator"])
    response = client.get("/office/insight?start=2026-02-30")
    assert response.status_code == 200


def _export(client: FlaskClient, **form: str) -> bytes:
    response = client.post("/office/insight/export", data={"what": "cases", "metric": "received", **form})
    assert response.status_code == 200, response.status_code
    return response.data


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("role", "personal", "full"),
    [
        ("station", "1", True),
        ("station", "", False),
        ("regulator", "1", True),
        ("merchant", "1", False),
    ],
)
def test_case_export_masks_by_role(
    app: Flask, session: Session, world: dict, role: str, personal: str, full: bool
) -> None:
    client = _client(app, world[role])
    rows = _csv_rows(_export(client, fmt="csv", personal=personal))
    text_ = "\n".join(",".join(r) for r in rows)
    assert (PHONE in text_) is full and ("王小明" in text_) is full
    assert ("139****5678" in text_) is not full
    log = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert log is not None and log.action == "export" and log.actor_id == world[role].id
    assert log.data["personal_data"] is full
    assert log.data["rows"] == (4 if role == "regulator" else 3)
    assert PHONE not in str(log.data)


def test_xlsx_export_opens_in_openpyxl(app: Flask, world: dict) -> None:
    client = _client(app, world["regulator"])
    book = openpyxl.load_workbook(io.BytesIO(_export(client, fmt="xlsx")))
    sheet = book.worksheets[0]
    numbers = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert {c.case_number for c in world["east_cases"] + world["west_cases"]} == numbers
    figures = client.post("/office/insight/export", data={"what": "figures", "fmt": "xlsx"})
    titles = [ws.title for ws in openpyxl.load_workbook(io.BytesIO(figures.data)).worksheets]
    assert titles == ["指标", "问题类型", "每日"]


def test_figure_export_is_csv_with_formulas(app: Flask, world: dict) -> None:
    client = _client(app, world["station"])
    response = client.post("/office/insight/export", data={"what": "figures", "fmt": "csv"})
    rows = _csv_rows(response.data)
    assert any("办结率" in row[0] for row in rows)
    assert "attachment" in response.headers["Content-Disposition"]


def test_formula_like_text_is_defused(app: Flask, session: Session, factory: Factory, world: dict) -> None:
    case = world["east_cases"][0]
    case.description = '=HYPERLINK("http://evil")'
    session.merge(case)
    session.commit()
    client = _client(app, world["station"])
    rows = _csv_rows(_export(client, fmt="csv", personal="1"))
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)


def test_audit_log_is_append_only(app: Flask, session: Session, world: dict) -> None:
    _export(_client(app, world["admin"]), fmt="csv")
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("UPDATE audit_log SET action = 'x'"))
    session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("DELETE FROM audit_log"))
    session.rollback()


def test_export_needs_a_known_format(app: Flask, world: dict) -> None:
    client = _client(app, world["regulator"])
    assert client.post("/office/insight/export", data={"what": "cases", "fmt": "pdf"}).status_code == 400


def test_monthly_report_has_units_and_shops(app: Flask, world: dict) -> None:
    client = _client(app, world["regulator"])
    page = client.get("/office/reports/monthly?month=2026-11").get_data(as_text=True)
    assert "消费维权分析报告" in page and "东街市场监管所" in page and "西街水果" in page
    assert "@media print" in page
    station = _client(app, world["station"]).get("/office/reports/monthly?month=2026-11")
    assert station.status_code == 200 and "西街水果" not in station.get_data(as_text=True)
    assert client.get(f"/office/reports/monthly?unit={world['district'].id + 999}").status_code == 404


def test_admin_issues_and_revokes_api_keys(app: Flask, session: Session, world: dict) -> None:
    client = _client(app, world["admin"])
    page = client.post("/office/apikeys", data={"name": "12345 热线平台"}).get_data(as_text=True)
    key = page.split('<code id="new-key">')[1].split("<")[0]
    assert key.startswith("ks_") and key not in client.get("/office/apikeys").get_data(as_text=True)
    from portal.models import ApiKey

    row = session.scalars(select(ApiKey)).one()
    assert row.key_hash != key
    client.post("/office/apikeys/revoke", data={"key_id": str(row.id)})
    session.rollback()
    assert session.get(ApiKey, row.id).revoked_at is not None
    actions = [a.action for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions == ["apikey_issued", "apikey_revoked"]
    assert _client(app, world["regulator"]).get("/office/apikeys").status_code == 403
