"""Poster pages: downloads in scope, bulk jobs from the web, revoking codes, importing a file."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.creditcode import check_character
from portal.models import Market, Merchant, PosterCode, PosterJob
from portal.poster_jobs import JobSettings, run_job
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as

BASE = "https://ks.example.cn"


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


@pytest.fixture
def world(factory: Factory) -> dict[str, Market | Merchant]:
    """Two markets of one office, a shop in each, and a market of another office."""
    home = factory.make_market(name="万博装饰市场")
    mine = factory.make_merchant(home, name="张记瓷砖")
    neighbour = factory.make_merchant(
        factory.make_market(home.unit, name="紫金街农贸市场"), name="老王水果店"
    )
    far = factory.make_merchant(
        factory.make_market(factory.make_unit("别处所"), name="远方市场"), name="远方商店"
    )
    return {"home": home, "mine": mine, "neighbour": neighbour, "far": far}


def decode_pdf(data: bytes) -> list[str]:
    """Return the URLs of the QR codes on the first page of a PDF."""
    document = pypdfium2.PdfDocument(data)
    try:
        image = document[0].render(scale=1.5).to_pil()
    finally:
        document.close()
    return [result.text for result in zxingcpp.read_barcodes(image)]


def code_of(session: Session, merchant: Merchant) -> str:
    """Return the merchant's live poster code, as committed now."""
    session.rollback()
    return session.scalars(
        select(PosterCode.code).where(PosterCode.merchant_id == merchant.id, PosterCode.revoked_at.is_(None))
    ).one()


def test_merchant_downloads_its_own_poster_but_not_another(
    client: FlaskClient, session: Session, world: dict[str, Merchant]
) -> None:
    mine, neighbour = world["mine"], world["neighbour"]
    login_as(client, make_user(session, "merchant", merchant=mine))
    pdf = client.get(f"/office/posters/merchant/{mine.id}.pdf?layout=A6")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert decode_pdf(pdf.data) == [f"{BASE}/c/{code_of(session, mine)}"]
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert client.get(f"/office/posters/merchant/{neighbour.id}.pdf").status_code == 404
    assert client.get(f"/office/posters/merchant/{neighbour.id}.png").status_code == 404
    assert client.get(f"/office/posters/market/{mine.market_id}.pdf").status_code == 403
    page = client.get("/office/posters").text
    assert "张记瓷砖" in page and "老王水果店" not in page and "bulk-form" not in page


def test_png_is_300_dpi_and_bad_values_are_404(
    client: FlaskClient, session: Session, world: dict[str, Merchant]
) -> None:
    mine = world["mine"]
    login_as(client, make_user(session, "merchant", merchant=mine))
    png = client.get(f"/office/posters/merchant/{mine.id}.png?layout=A6")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert Image.open(io.BytesIO(png.data)).size == (1240, 1748)
    assert client.get(f"/office/posters/merchant/{mine.id}.png?layout=A3").status_code == 404
    assert client.get(f"/office/posters/merchant/{mine.id}.svg").status_code == 404


def test_station_prints_only_its_market(
    client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    home, mine, neighbour = world["home"], world["mine"], world["neighbour"]
    login_as(client, make_user(session, "station", market=home))
    assert client.get(f"/office/posters/market/{home.id}.pdf").status_code == 200
    assert client.get(f"/office/posters/merchant/{mine.id}.pdf").status_code == 200
    assert client.get(f"/office/posters/market/{neighbour.market_id}.pdf").status_code == 404  # type: ignore[union-attr]
    assert client.get(f"/office/posters/merchant/{neighbour.id}.pdf").status_code == 404
    page = client.get("/office/posters").text
    assert "张记瓷砖" in page and "老王水果店" not in page
    options = re.findall(r'<option[^>]*value="([^"]+)"', page)
    assert f"market:{home.id}" in options and not any(o.startswith("unit:") for o in options)


def test_regulator_runs_a_bulk_job_and_downloads_it(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    home = world["home"]
    regulator = make_user(session, "regulator", unit=home.unit)  # type: ignore[union-attr]
    login_as(client, regulator)
    page = client.get("/office/posters").text
    assert f'value="unit:{home.unit_id}"' in page and f'value="market:{home.id}"' in page  # type: ignore[union-attr]

    app.config["POSTER_JOBS_SPAWN"] = False
    started = client.post("/office/posters/jobs", data={"scope": "all", "layout": "A6", "fmt": "pdf"})
    assert started.status_code == 303
    token = started.headers["Location"].rsplit("/", 1)[1]
    waiting = client.get(f"/office/posters/jobs/{token}", headers={"Accept-Language": "en"})
    assert 'http-equiv="refresh"' in waiting.text and "0 / 4" in waiting.text
    assert client.get(f"/office/posters/jobs/{token}.json").json == {
        "status": "queued",
        "done": 0,
        "total": 4,
    }
    assert client.get(f"/office/posters/jobs/{token}/download").status_code == 404

    with app.app_context():
        assert run_job(token, JobSettings(bulk_dir=Path(app.config["BULK_DIR"]), base_url=BASE))
    ready = client.get(f"/office/posters/jobs/{token}").text
    assert "refresh" not in ready and "4 / 4" in ready and f"/office/posters/jobs/{token}/download" in ready
    assert client.get(f"/office/posters/jobs/{token}.json").json["status"] == "done"
    download = client.get(f"/office/posters/jobs/{token}/download")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    document = pypdfium2.PdfDocument(download.data)
    assert len(document) == 4  # two market posters, two shops: the far office is not included
    document.close()

    # Someone else in the same area may fetch it; another office may not.
    login_as(client, make_user(session, "regulator", unit=home.unit))  # type: ignore[union-attr]
    assert client.get(f"/office/posters/jobs/{token}/download").status_code == 200
    far_market = world["far"].market  # type: ignore[union-attr]
    login_as(client, make_user(session, "regulator", unit=far_market.unit))
    for path in (
        f"/office/posters/jobs/{token}",
        f"/office/posters/jobs/{token}.json",
        f"/office/posters/jobs/{token}/download",
    ):
        assert client.get(path).status_code == 404
    login_as(client, make_user(session, "station", market=home))
    assert client.get(f"/office/posters/jobs/{token}").status_code == 404  # a wider area than hers


def test_bulk_scope_outside_the_area_is_404(
    client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    home, far = world["home"], world["far"]
    login_as(client, make_user(session, "regulator", unit=home.unit))  # type: ignore[union-attr]
    for scope in (f"market:{far.market_id}", f"unit:{far.unit_id}"):  # type: ignore[union-attr]
        response = client.post("/office/posters/jobs", data={"scope": scope, "layout": "A4", "fmt": "pdf"})
        assert response.status_code in (400, 404)  # not even offered, and refused if forged
    assert session.scalar(select(func.count()).select_from(PosterJob)) == 0
    login_as(client, make_user(session, "merchant", merchant=world["mine"]))  # type: ignore[arg-type]
    assert client.post("/office/posters/jobs", data={"scope": "all"}).status_code == 403


def test_failed_job_says_why(
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: dict[str, Market | Merchant],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = world["home"]
    station = make_user(session, "station", market=home)
    login_as(client, station)
    app.config["POSTER_JOBS_SPAWN"] = False
    token = (
        client.post("/office/posters/jobs", data={"scope": f"market:{home.id}", "layout": "A4", "fmt": "zip"})
        .headers["Location"]
        .rsplit("/", 1)[1]
    )
    monkeypatch.setenv("KUAISU_CJK_FONT", "/nonexistent/font.ttc")
    with app.app_context():
        run_job(token, JobSettings(Path(app.config["BULK_DIR"]), BASE))
    english = client.get(f"/office/posters/jobs/{token}", headers={"Accept-Language": "en"}).text
    assert "The run failed." in english and "Chinese font" in english
    assert "fonts-wqy-microhei" in english and "refresh" not in english
    assert "error" in client.get(f"/office/posters/jobs/{token}.json").json


def test_station_revokes_a_code_with_a_reason(
    client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    home, mine, neighbour = world["home"], world["mine"], world["neighbour"]
    old = code_of(session, mine)  # type: ignore[arg-type]
    login_as(client, make_user(session, "station", market=home))
    refused = client.post(f"/office/posters/{old}/revoke", data={"reason": ""})
    assert refused.status_code == 303 and code_of(session, mine) == old  # type: ignore[arg-type]
    assert (
        client.post(
            f"/office/posters/{code_of(session, neighbour)}/revoke",  # type: ignore[arg-type]
            data={"reason": "x"},
        ).status_code
        == 404
    )
    done = client.post(
        f"/office/posters/{old}/revoke",
        data={"reason": "海报被复制滥用"},
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )
    fresh = code_of(session, mine)  # type: ignore[arg-type]
    assert fresh != old and f"The new code is {fresh}" in done.text
    assert client.get(f"/c/{old}").status_code == 404 and client.get(f"/c/{fresh}").status_code == 200
    login_as(client, make_user(session, "merchant", merchant=mine))  # type: ignore[arg-type]
    assert client.post(f"/office/posters/{fresh}/revoke", data={"reason": "x"}).status_code == 403


def _credit(n: int) -> str:
    body = f"91140402MA3{n:06d}"
    return body + check_character(body)


def test_regulator_imports_a_file_after_seeing_its_errors(
    client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    home = world["home"]
    regulator = make_user(session, "regulator", unit=home.unit)  # type: ignore[union-attr]
    login_as(client, regulator)
    rows = [
        "商户名称,统一社会信用代码,所属市场,行业类别,地址,联系电话,双承诺",
        f"新店一,{_credit(1)},万博装饰市场,食品,A区1号,13900000001,是",
        f"新店二,{_credit(2)[:17]}0,万博装饰市场,食品,A区2号,13900000002,是",
        f"新店三,{_credit(3)},远方市场,食品,A区3号,13900000003,否",
    ]
    data = "\r\n".join(rows).encode("gb18030")
    before = session.scalar(select(func.count()).select_from(Merchant))
    checked = client.post(
        "/office/merchants/import",
        content_type="multipart/form-data",
        data={"register": (io.BytesIO(data), "商户.csv")},
        headers={"Accept-Language": "en"},
    )
    assert checked.status_code == 200
    errors = dict(re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td></tr>", checked.text))
    assert sorted(errors) == ["3", "4"] and "not in your area" in errors["4"]
    assert "Nothing has been imported" in checked.text
    assert session.scalar(select(func.count()).select_from(Merchant)) == before
    token = re.search(r'name="upload"[^>]*value="([0-9a-f]{32})"', checked.text)
    assert token is not None

    # Confirming without ticking "valid rows only" still imports nothing.
    again = client.post("/office/merchants/import/confirm", data={"upload": token.group(1)})
    assert again.status_code == 400
    stranger = make_user(session, "regulator", unit=home.unit)  # type: ignore[union-attr]
    other = app_client(client)
    login_as(other, stranger)
    assert (
        other.post(
            "/office/merchants/import/confirm", data={"upload": token.group(1), "valid_only": "y"}
        ).status_code
        == 400
    )
    done = client.post(
        "/office/merchants/import/confirm",
        data={"upload": token.group(1), "valid_only": "y"},
        headers={"Accept-Language": "en"},
    )
    assert done.status_code == 200 and "1 merchants registered" in done.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Merchant)) == before + 1  # type: ignore[operator]
    login_as(client, make_user(session, "station", market=home))
    assert client.get("/office/merchants/import").status_code == 403


def app_client(client: FlaskClient) -> FlaskClient:
    """Return a second client on the same app (another browser)."""
    return client.application.test_client()


def test_unreadable_upload_is_refused(
    client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    login_as(client, make_user(session, "admin"))
    response = client.post(
        "/office/merchants/import",
        content_type="multipart/form-data",
        data={"register": (io.BytesIO(b"name,phone\r\nx,1"), "a.csv")},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400 and "missing column" in response.text


def test_bulk_form_needs_csrf(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Market | Merchant]
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(client, make_user(session, "admin"))
    assert client.post("/office/posters/jobs", data={"scope": "all"}).status_code == 400
    assert session.scalar(select(func.count()).select_from(PosterJob)) == 0
