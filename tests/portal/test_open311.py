"""Open311 GeoReport v2: round trip, the spec's errors in JSON and XML, and no personal data."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.apikeys import issue_key, revoke_key
from portal.audit import append_event
from portal.db import utcnow
from portal.models import Merchant
from tests.factories import Factory

SALT = "test-secret-key-0123456789abcdef"
SEEDED = [("13987658231", "欧阳锋"), ("13987657492", "黄药师"), ("13987656613", "洪七公")]


@pytest.fixture
def shop(factory: Factory) -> Merchant:
    return factory.make_merchant(name="张记瓷砖")


@pytest.fixture
def key(session: Session) -> str:
    _row, key = issue_key(session, "城市平台", actor=None, now=utcnow())
    session.commit()
    return key


def _fields(factory: Factory, shop: Merchant, key: str, **changes: str) -> dict[str, str]:
    fields = {
        "api_key": key,
        "service_code": "quality",
        "description": "地砖开裂，商家不予退换，要求处理。",
        "phone": "13911112222",
        "first_name": "小红",
        "last_name": "李",
        "attribute[consent]": "true",
        "address_id": factory.poster_of(shop).code,
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v != "<drop>"}


def _errors(response: Any, fmt: str) -> list[dict[str, Any]]:
    if fmt == "json":
        return list(response.get_json())
    root = ET.fromstring(response.data)
    assert root.tag == "errors"
    return [
        {"code": int(e.findtext("code") or 0), "description": e.findtext("description")}
        for e in root.findall("error")
    ]


def test_services_list_the_categories(client: FlaskClient) -> None:
    services = client.get("/open311/v2/services.json").get_json()
    assert {s["service_code"] for s in services} >= {"food", "quality", "price"}
    answer = client.get("/open311/v2/services.xml")
    assert answer.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(answer.data)
    assert root.tag == "services" and root.find("service/service_code") is not None
    definition = client.get("/open311/v2/services/quality.json").get_json()
    assert "poster_code" in {a["code"] for a in definition["attributes"]}
    xml = ET.fromstring(client.get("/open311/v2/services/quality.xml").data)
    assert xml.find("attributes/attribute/code") is not None


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_round_trip(client: FlaskClient, factory: Factory, shop: Merchant, key: str, fmt: str) -> None:
    created = client.post(f"/open311/v2/requests.{fmt}", data=_fields(factory, shop, key))
    assert created.status_code == 201, created.data
    if fmt == "json":
        number = created.get_json()[0]["service_request_id"]
        one = client.get(f"/open311/v2/requests/{number}.json").get_json()
        assert one[0]["status"] == "open" and one[0]["service_code"] == "quality"
        assert one[0]["agency_responsible"] == "张记瓷砖"
        assert one[0]["requested_datetime"].endswith("+08:00") and one[0]["expected_datetime"]
        assert one[0]["status_notes"]
        listed = client.get("/open311/v2/requests.json?service_code=quality&status=open").get_json()
    else:
        number = ET.fromstring(created.data).findtext("request/service_request_id")
        one_xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").data)
        assert one_xml.findtext("request/status") == "open"
        listed = [
            {"service_request_id": r.findtext("service_request_id")}
            for r in ET.fromstring(client.get("/open311/v2/requests.xml").data).findall("request")
        ]
    assert number and number.startswith("KS")
    assert number in {r["service_request_id"] for r in listed}


def test_the_same_idempotency_key_returns_the_same_case(
    client: FlaskClient, factory: Factory, shop: Merchant, key: str
) -> None:
    fields = _fields(factory, shop, key)
    first = client.post("/open311/v2/requests.json", data=fields, headers={"Idempotency-Key": "abc-1"})
    again = client.post("/open311/v2/requests.json", data=fields, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()[0]["service_request_id"] == again.get_json()[0]["service_request_id"]
    other = client.post(
        "/open311/v2/requests.json",
        data={**fields, "phone": "13911113333"},
        headers={"Idempotency-Key": "abc-1"},
    )
    assert other.status_code == 409 and _errors(other, "json")[0]["code"] == 409


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("changes", "code", "mentions"),
    [
        ({"api_key": "ks_wrong-key-000000000000"}, 403, "api_key"),
        ({"api_key": "<drop>"}, 403, "api_key"),
        ({"description": "太短"}, 400, "description"),
        ({"phone": "<drop>"}, 400, "phone"),
        ({"attribute[consent]": "<drop>"}, 400, "consent"),
        ({"address_id": "NOPE000000"}, 400, "address_id"),
        ({"service_code": "spaceships"}, 400, "service_code"),
    ],
)
def test_refusals_use_the_spec_error_format(
    client: FlaskClient,
    factory: Factory,
    shop: Merchant,
    key: str,
    fmt: str,
    changes: dict[str, str],
    code: int,
    mentions: str,
) -> None:
    response = client.post(f"/open311/v2/requests.{fmt}", data=_fields(factory, shop, key, **changes))
    assert response.status_code == code
    errors = _errors(response, fmt)
    assert errors[0]["code"] == code and mentions in errors[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_and_request_are_404_in_the_spec_format(client: FlaskClient, fmt: str) -> None:
    for path in (
        f"/open311/v2/services/spaceships.{fmt}",
        f"/open311/v2/requests/KS0.{fmt}",
        f"/open311/v2/nothing.{fmt}",
    ):
        response = client.get(path)
        assert response.status_code == 404 and _errors(response, fmt)[0]["code"] == 404


def test_a_revoked_key_is_refused(
    client: FlaskClient, session: Session, factory: Factory, shop: Merchant, key: str
) -> None:
    from portal.apikeys import find_key

    row = find_key(session, key)
    assert row is not None
    revoke_key(session, row.id, actor=None, now=utcnow())
    session.commit()
    response = client.post("/open311/v2/requests.json", data=_fields(factory, shop, key))
    assert response.status_code == 403


def test_csrf_does_not_apply_to_the_api(app: Flask, factory: Factory, shop: Merchant, key: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post("/open311/v2/requests.json", data=_fields(factory, shop, key))
    assert response.status_code == 201


def test_filters_and_bad_dates(client: FlaskClient, factory: Factory, shop: Merchant) -> None:
    now = utcnow()
    factory.make_complaint(shop, now=now - timedelta(days=2))
    start = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(client.get(f"/open311/v2/requests.json?start_date={start}").get_json()) == 1
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []
    assert client.get("/open311/v2/requests.json?service_code=food").get_json() == []
    bad = client.get("/open311/v2/requests.json?start_date=yesterday")
    assert bad.status_code == 400 and "start_date" in bad.get_json()[0]["description"]
    assert client.get("/open311/v2/requests.json?status=maybe").status_code == 400


def test_the_phone_limit_of_the_form_applies(
    app_config: dict[str, Any], factory: Factory, shop: Merchant, key: str
) -> None:
    from portal import create_app

    app_config["RATELIMIT_SUBMIT_PHONE"] = "2 per hour"
    app = create_app(app_config)
    client = app.test_client()
    fields = _fields(factory, shop, key)
    codes = [client.post("/open311/v2/requests.json", data=fields).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    refused = client.post("/open311/v2/requests.json", data=fields)
    assert refused.get_json()[0]["code"] == 429
    assert int(refused.headers["Retry-After"]) > 0
    app.extensions["kuaisu.engine"].dispose()


def test_no_personal_data_and_no_reports_in_any_response(
    client: FlaskClient, session: Session, factory: Factory, shop: Merchant
) -> None:
    now = utcnow()
    for phone, name in SEEDED:
        case = factory.make_complaint(shop, now=now - timedelta(hours=1), phone=phone, name=name).complaint
        append_event(
            session,
            case,
            "reply",
            now=now,
            salt=SALT,
            actor_role="merchant",
            public=True,
            body=f"{name}您好，请到店处理，电话 {phone}",
        )
        session.commit()
    report = factory.make_complaint(shop, now=now, kind="report", phone="13987659904").complaint
    numbers = [c["service_request_id"] for c in client.get("/open311/v2/requests.json").get_json()]
    assert report.case_number not in numbers and len(numbers) == len(SEEDED)
    assert client.get(f"/open311/v2/requests/{report.case_number}.json").status_code == 404
    bodies = [
        client.get(path).data.decode()
        for path in (
            "/open311/v2/requests.json",
            "/open311/v2/requests.xml",
            "/open311/v2/services.json",
            "/open311/v2/services.xml",
            "/open311/v2/services/quality.json",
            *[f"/open311/v2/requests/{n}.{f}" for n in numbers for f in ("json", "xml")],
        )
    ]
    for body in bodies:
        for phone, name in [*SEEDED, ("13987659904", "")]:
            assert phone not in body and phone[-4:] not in body and f"{phone[:3]}****" not in body
            assert not name or name not in body
    notes = json.loads(bodies[0])[0]["status_notes"]
    assert notes and "您好" not in notes
