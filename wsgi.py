"""The WSGI entry point: `gunicorn wsgi:app`; refuses a schema that does not match the code."""

from portal import create_app
from portal.db import get_engine
from portal.migrate import check_at_head

app = create_app()
with app.app_context():
    check_at_head(get_engine(), app.config["DATABASE_URL"])
    # With --preload the master imports this; forked workers must not share its connections.
    get_engine().dispose()
