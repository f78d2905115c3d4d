"""The back office: merchant staff, the rights station and the regulator at work."""

from __future__ import annotations

from importlib.util import find_spec

from flask import Flask


def _import_views() -> None:
    """Import every module that adds routes to the blueprint, before it is registered."""
    import merchants.auth
    import merchants.reveal
    import merchants.staff

    # Written in parallel by other people: skip one that does not exist yet. Remove these
    # find_spec checks once every module is in the tree.
    if find_spec("merchants.board"):
        import merchants.board
    if find_spec("merchants.cases"):
        import merchants.cases
    if find_spec("merchants.case_actions"):
        import merchants.case_actions
    if find_spec("merchants.canned"):
        import merchants.canned
    if find_spec("merchants.channels"):
        import merchants.channels
    if find_spec("merchants.posters"):
        import merchants.importer
        import merchants.poster_jobs
        import merchants.posters
    if find_spec("merchants.insight"):
        import merchants.apikeys
        import merchants.exports
        import merchants.insight
        import merchants.reports
    if find_spec("merchants.escalation"):
        import merchants.calendar
        import merchants.escalation
        import merchants.filing  # noqa: F401


def register(app: Flask) -> None:
    """Attach the back office: sign-in, the guarded blueprint with every view, template helpers."""
    from merchants import display, sessions, throttle
    from merchants.blueprint import bp

    _import_views()
    sessions.init_app(app)
    throttle.init_app(app)
    display.init_app(app)
    app.register_blueprint(bp)
