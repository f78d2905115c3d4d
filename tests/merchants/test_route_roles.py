"""Every back-office route declares its roles, and an anonymous visitor is sent to sign in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from merchants.access import ALL_ROLES, ANONYMOUS, BACKGROUND_ATTR, declared_roles
from merchants.blueprint import UndeclaredRolesError
from tests.factories import Factory, make_user
from tests.merchants.conftest import login_as
from tests.merchants.routes import OFFICE_RULES, PROBE, PUBLIC_ENDPOINTS, dummy_path, methods, rule_id

GUARDED_RULES = [rule for rule in OFFICE_RULES if rule.endpoint not in PUBLIC_ENDPOINTS]


def test_the_url_map_has_back_office_routes() -> None:
    assert len(OFFICE_RULES) > 10
    assert {rule.endpoint for rule in OFFICE_RULES} >= PUBLIC_ENDPOINTS


@pytest.mark.parametrize("rule", OFFICE_RULES, ids=rule_id)
def test_route_declares_roles(rule: Rule) -> None:
    assert rule.endpoint.startswith("office."), (
        f"{rule.rule} is outside the office blueprint, so the guard does not cover it: "
        "add it with merchants.blueprint.bp"
    )
    allowed = declared_roles(PROBE.view_functions[rule.endpoint])
    assert allowed, f"{rule.endpoint} declares no roles: add @roles(...) from merchants.access"
    assert allowed <= {*ALL_ROLES, ANONYMOUS}
    if ANONYMOUS in allowed:
        assert rule.endpoint in PUBLIC_ENDPOINTS, (
            f"{rule.endpoint} is public; if it really needs no login, add it to PUBLIC_ENDPOINTS"
        )
    else:
        assert rule.endpoint not in PUBLIC_ENDPOINTS, f"{rule.endpoint} is listed as public but is not"


@pytest.mark.parametrize("rule", GUARDED_RULES, ids=rule_id)
def test_anonymous_visitor_is_sent_to_login(client: FlaskClient, app: Flask, rule: Rule) -> None:
    path = dummy_path(app, rule)
    for method in methods(rule):
        response = client.open(path, method=method)
        if getattr(app.view_functions[rule.endpoint], BACKGROUND_ATTR, False):
            assert response.status_code == 401, f"{method} {path}"  # a poll gets no redirect
            continue
        assert response.status_code == 302, f"{method} {path} gave {response.status_code}"
        target = urlsplit(response.location)
        assert target.path == "/office/login", f"{method} {path} went to {response.location}"
        if method == "GET":
            assert parse_qs(target.query)["next"] == [path]


def test_route_without_roles_fails_closed(app: Flask, client: FlaskClient) -> None:
    app.add_url_rule("/office/forgotten", endpoint="office.forgotten", view_func=lambda: "open")
    with pytest.raises(UndeclaredRolesError, match=r"office\.forgotten"):
        client.get("/office/forgotten")


def test_route_without_roles_is_a_500_in_production(app: Flask, client: FlaskClient) -> None:
    app.add_url_rule("/office/forgotten", endpoint="office.forgotten", view_func=lambda: "open")
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/office/forgotten")
    assert response.status_code == 500
    assert "open" not in response.text


def test_wrong_role_is_403(client: FlaskClient, factory: Factory) -> None:
    merchant = factory.make_merchant()
    login_as(client, make_user(factory.session, "merchant", merchant=merchant))
    response = client.get("/office/staff")
    assert response.status_code == 403
    assert "您的账号不能使用此页面" in response.text
