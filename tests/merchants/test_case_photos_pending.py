"""Staff see that a case's photos are still being checked (PHOTOS_IN_BACKGROUND), never the raw file."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Attachment, Complaint
from tests.factories import Factory, complaint_form, image_bytes, make_user
from tests.merchants.conftest import login_as


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Keep photos as sent, for the worker."""
    return {**app_config, "PHOTOS_IN_BACKGROUND": 1}


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


def test_staff_see_photos_still_being_checked(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    merchant = factory.make_merchant()
    code = factory.poster_of(merchant).code
    photos = [(io.BytesIO(image_bytes()), "a.jpg")]
    sent = client.post(
        f"/c/{code}", data={**complaint_form(), "photos": photos}, content_type="multipart/form-data"
    )
    assert sent.status_code == 303
    session.rollback()
    number = session.scalars(select(Complaint.case_number)).one()
    photo_id = session.scalars(select(Attachment.id)).one()
    login_as(client, make_user(session, "merchant", merchant=merchant))
    page = client.get(f"/office/complaints/{number}").get_data(as_text=True)
    assert "还有 1 张照片正在检查" in page
    assert client.get(f"/office/complaints/{number}/photos/{photo_id}").status_code == 404
