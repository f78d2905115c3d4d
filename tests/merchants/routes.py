"""The back office's URL map, read once at collection so tests can be parametrized over it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from portal import create_app

# Routes that need no login. A new public route fails test_route_roles until it is listed
# here on purpose.
PUBLIC_ENDPOINTS = frozenset(
    {
        "office.login_form",
        "office.login",
        "office.totp_form",
        "office.totp",
        "office.board_js",
    }
)


def _probe_app() -> Flask:
    """Build an app with no database behind it, only to read its URL map."""
    return create_app(
        {"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "probe-secret-key-0123456789abcdef"}
    )


PROBE = _probe_app()
OFFICE_RULES: list[Rule] = sorted(
    (rule for rule in PROBE.url_map.iter_rules() if rule.rule.startswith("/office")),
    key=lambda rule: (rule.rule, rule.endpoint),
)


def rule_id(rule: Rule) -> str:
    """Name a parametrized case by its endpoint."""
    return rule.endpoint


def methods(rule: Rule) -> list[str]:
    """Return the methods a rule answers, GET first, without HEAD and OPTIONS."""
    found = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return sorted(found, key=lambda m: m != "GET")


def dummy_path(app: Flask, rule: Rule) -> str:
    """Build the rule's URL with placeholder arguments (1 for numbers, 'x' otherwise)."""
    converters: dict[str, Any] = rule._converters
    values = {name: 1 if isinstance(converters[name], IntegerConverter) else "x" for name in rule.arguments}
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(rule.endpoint, values, method=methods(rule)[0])
