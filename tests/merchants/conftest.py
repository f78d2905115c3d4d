"""Back-office test helpers: sign a staff account in on a test client."""

from __future__ import annotations

from datetime import datetime

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient

from portal.models import User


def login_as(client: FlaskClient, user: User, *, now: datetime | None = None) -> None:
    """Put a signed-in session for the user in the client's cookie, as the login page would.

    Sets Flask-Login's keys plus the epoch, nonce and login/last-seen stamps, skipping the
    password and code. `now` defaults to the real clock, because the guard checks the idle
    and absolute timeouts against it.
    """
    from merchants.sessions import session_payload
    from portal.db import utcnow

    with client.session_transaction() as cookie:
        cookie.clear()
        cookie["_user_id"] = str(user.id)
        cookie["_fresh"] = True
        cookie.update(session_payload(user, now or utcnow()))


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with tiny argon2 costs, so tests that open many accounts stay quick."""
    import merchants.accounts as accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts._decoy_hash.cache_clear()
