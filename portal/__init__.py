"""Kuaisu's core: the app factory that turns on every setting in one place."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Kuaisu app: config, database, i18n, security, blueprints, errors."""
    from portal import db, errors, facts_queue, i18n, notify, security, shedding
    from portal.config import load_config
    from portal.formparser import KuaisuRequest

    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=None,
    )
    app.request_class = KuaisuRequest
    load_config(app, test_config)
    if app.config["TRUSTED_PROXIES"]:
        proxies = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    # First of the request hooks: a request past its queue budget is shed before any other work.
    shedding.init_app(app)
    db.init_app(app)
    # Every transaction that changes a case queues it for insight's day tables.
    facts_queue.watch(app.extensions["kuaisu.sessionmaker"])
    notify.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Attach the shopper's pages and the back office; the one place that knows them all."""
    from merchants import register as register_office
    from portal.health import bp as health_bp
    from portal.public import bp as public_bp
    from portal.tracking import bp as tracking_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(tracking_bp)
    app.register_blueprint(import_module("portal.shopper_actions").bp)
    app.register_blueprint(import_module("portal.filing_views").bp)
    app.register_blueprint(import_module("portal.disclosure_views").bp)
    app.register_blueprint(import_module("portal.open311_views").bp)
    register_office(app)
