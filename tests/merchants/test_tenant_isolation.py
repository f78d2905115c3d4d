"""Tenant isolation over the whole URL map: another tenant's record is a 404 for every role."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from merchants.access import declared_roles
from tests.factories import Factory
from tests.merchants.conftest import login_as
from tests.merchants.routes import OFFICE_RULES, PUBLIC_ENDPOINTS, methods, rule_id
from tests.merchants.tenants import ISOLATED_ROLES, PLAIN_ARGUMENTS, RESOLVERS, Tenant, build_world

RECORD_RULES = [r for r in OFFICE_RULES if r.arguments and r.endpoint not in PUBLIC_ENDPOINTS]
# Own records that may still answer 404, and why (the positive control skips them).
OWN_RECORD_MAY_BE_404 = {
    "office.poster_job_download": "the test job has no finished file",
    "office.filing_intro": "the package exists only once a case has escalated",
    "office.filing_package_view": "the package exists only once a case has escalated",
}


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let every request get its own app context, as in production."""
    return detached_session


def _path(app: Flask, rule: Rule, method: str, tenant: Tenant) -> str:
    """Build the rule's URL naming the tenant's records."""
    values = {
        name: PLAIN_ARGUMENTS[name] if name in PLAIN_ARGUMENTS else RESOLVERS[name](tenant)
        for name in rule.arguments
    }
    with app.test_request_context():
        return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def test_every_record_route_is_checked() -> None:
    assert {"office.complaint", "office.complaint_photo", "office.reveal_phone", "office.staff_disable"} <= {
        rule.endpoint for rule in RECORD_RULES
    }


@pytest.mark.parametrize("rule", RECORD_RULES, ids=rule_id)
def test_other_tenants_record_is_404(app: Flask, factory: Factory, rule: Rule) -> None:
    unknown = rule.arguments - RESOLVERS.keys() - PLAIN_ARGUMENTS.keys()
    assert not unknown, (
        f"{rule.endpoint}: add a resolver for {', '.join(sorted(unknown))} "
        "in tests/merchants/tenants.py (RESOLVERS), naming each tenant's record"
    )
    mine, theirs = build_world(factory, app.config["UPLOAD_DIR"])
    allowed = declared_roles(app.view_functions[rule.endpoint]) or frozenset()
    for role in ISOLATED_ROLES:
        client = app.test_client()
        login_as(client, mine.users[role])
        for method in methods(rule):
            response = client.open(_path(app, rule, method, theirs), method=method)
            expected = 404 if role in allowed else 403
            assert response.status_code == expected, (
                f"{role} {method} {rule.rule} with the other tenant's record gave "
                f"{response.status_code}, expected {expected}"
            )
    if rule.endpoint in OWN_RECORD_MAY_BE_404:
        return
    # Positive control: the same route finds the user's own record, so the 404 above meant it.
    for role in (r for r in ISOLATED_ROLES if r in allowed):
        client = app.test_client()
        login_as(client, mine.users[role])
        method = methods(rule)[0]
        response = client.open(_path(app, rule, method, mine), method=method)
        assert response.status_code != 404, f"{role} {method} {rule.rule} missed its own record"
