"""A worker keeps a poster's target a few seconds; revocation is still asked on every post."""

from __future__ import annotations

import html

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Complaint
from portal.register import revoke_and_reissue
from tests.conftest import NOW
from tests.factories import Factory, complaint_form


@pytest.fixture
def session(detached_session: Session) -> Session:
    return detached_session


def _post(client: FlaskClient, code: str) -> tuple[int, str]:
    response = client.post(f"/c/{code}", data=complaint_form())
    return response.status_code, html.unescape(response.get_data(as_text=True))


def test_a_poster_revoked_after_a_post_refuses_the_next_at_once(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant(name="张记瓷砖")
    old = factory.poster_of(merchant)
    old_code = old.code
    factory.session.commit()
    assert _post(client, old_code)[0] == 303
    cache = client.application.extensions["kuaisu.poster_targets"]
    assert cache
    revoke_and_reissue(factory.session, old, reason="海报被复制滥用", now=NOW)
    factory.session.commit()
    status, page = _post(client, old_code)
    assert status == 404
    assert "此海报已失效" in page
    assert not cache
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Complaint)) == 1
