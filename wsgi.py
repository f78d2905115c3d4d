"""The WSGI entry point: `gunicorn wsgi:app`; refuses a schema that does not match the code."""

import gc

from portal import create_app
from portal.db import get_engine
from portal.migrate import check_at_head

app = create_app()
with app.app_context():
    check_at_head(get_engine(), app.config["DATABASE_URL"])
    # With --preload the master imports this; forked workers must not share its connections.
    get_engine().dispose()
# Everything loaded so far lives as long as the process: moving it out of the collector's
# reach spares every full collection from walking it again (about 0.3 ms of a complaint's
# CPU). With --preload this also keeps forked workers from copying those pages.
gc.freeze()
