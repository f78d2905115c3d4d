"""Photos kept as sent (PHOTOS_IN_BACKGROUND): receipt at once, cleaned and shown by the worker, once."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import verify_chains
from portal.cli import cli
from portal.db import new_session, utcnow
from portal.models import Attachment, Event
from portal.photo_worker import PhotoLimits, process_pending
from portal.storage import LocalStore
from tests.factories import Factory, complaint_form, image_bytes


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Keep photos as sent, for the worker."""
    return {**app_config, "PHOTOS_IN_BACKGROUND": 1}


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


def _gps_jpeg() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 42.0)
    return image_bytes("JPEG", (64, 48), exif=exif, comment=b"home of Li", quality=95)


def _post(client: FlaskClient, code: str, files: list[tuple[bytes, str]]) -> str:
    photos = [(io.BytesIO(raw), name) for raw, name in files]
    response = client.post(
        f"/c/{code}", data={**complaint_form(), "photos": photos}, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    return str(response.headers["Location"]).split("?")[0]


def _fresh(session: Session) -> Session:
    """End the test's read transaction so it sees what requests and commands committed."""
    session.rollback()
    return session


def _files(app: Flask) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()}


def _process(app: Flask) -> str:
    result = app.test_cli_runner().invoke(cli, ["photos", "process"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_receipt_first_then_the_clean_photo_once(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    original = _gps_jpeg()
    receipt = _post(client, code, [(original, "a.jpg"), (image_bytes("PNG"), "b.png")])
    pending = _fresh(session).scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.status for a in pending] == ["pending", "pending"]
    assert _files(app)[pending[0].storage_key] == original  # kept exactly as sent until cleaned
    page = client.get(receipt).get_data(as_text=True)
    assert "已收到照片 2 张，正在检查" in page and "/photos/" not in page
    assert client.get(f"{receipt}/photos/{pending[0].id}").status_code == 404  # never shown raw

    assert "2 ready, 0 refused" in _process(app)
    ready = _fresh(session).scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.status for a in ready] == ["ready", "ready"]
    assert all(a.width and a.height and a.sha256 for a in ready)
    files = _files(app)
    assert set(files) == {a.storage_key for a in ready}  # the originals are gone
    served = client.get(f"{receipt}/photos/{ready[0].id}")
    assert served.status_code == 200 and b"home of Li" not in served.data
    assert not Image.open(io.BytesIO(served.data)).getexif()
    assert "正在检查" not in client.get(receipt).get_data(as_text=True)

    assert "0 ready, 0 refused" in _process(app)  # a rerun finds nothing left to do
    assert _files(app) == files
    assert verify_chains(session, app.config["PHONE_SALT"])[1] is None


def test_a_damaged_photo_is_refused_on_the_timeline_and_deleted(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    whole = image_bytes("JPEG", (640, 480))
    receipt = _post(client, code, [(image_bytes(), "ok.jpg"), (whole[: len(whole) // 2], "cut.jpg")])
    assert "1 ready, 1 refused" in _process(app)
    statuses = [a.status for a in _fresh(session).scalars(select(Attachment).order_by(Attachment.id))]
    assert statuses == ["ready", "failed"]
    event = session.scalars(select(Event).where(Event.kind == "photo_not_stored")).one()
    assert event.public and event.data == {"photo": 2, "reason": "The photo is damaged or incomplete."}
    assert len(_files(app)) == 1
    assert "第 2 张照片未能接收" in client.get(receipt).get_data(as_text=True)
    assert verify_chains(session, app.config["PHONE_SALT"])[1] is None


def test_what_is_no_photo_at_all_is_refused_at_once(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    _post(client, code, [(b"GIF89a not really a photo", "x.jpg")])
    assert _fresh(session).scalars(select(Attachment)).all() == []
    event = session.scalars(select(Event).where(Event.kind == "photo_not_stored")).one()
    assert event.data == {"photo": 1, "reason": "The file is not a JPEG, PNG or WebP photo."}


class _RacingStore(LocalStore):
    """A store whose first put lets another worker finish every pending photo first."""

    def __init__(self, root: str, app: Flask) -> None:
        super().__init__(root)
        self.app, self.raced = app, False

    def put(self, key: str, data: bytes) -> None:
        if not self.raced:
            self.raced = True
            _process(self.app)
        super().put(key, data)


def test_two_workers_on_one_photo_store_it_once(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    _post(client, code, [(image_bytes(), "a.jpg")])
    config = app.config
    limits = PhotoLimits(config["MAX_IMAGE_PIXELS"], config["MAX_PHOTO_BYTES"], config["PHONE_SALT"])
    with app.app_context():
        store = _RacingStore(app.config["UPLOAD_DIR"], app)
        run = process_pending(lambda: new_session(write=True), store, limits, utcnow())
    assert (run.ready, run.raced) == (0, 1)
    attachment = _fresh(session).scalars(select(Attachment)).one()
    assert attachment.status == "ready" and set(_files(app)) == {attachment.storage_key}


def test_a_worker_killed_before_its_commit_loses_nothing(
    app: Flask, client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    _post(client, code, [(image_bytes(), "a.jpg")])
    original = _fresh(session).scalars(select(Attachment.storage_key)).one()
    config = app.config
    limits = PhotoLimits(config["MAX_IMAGE_PIXELS"], config["MAX_PHOTO_BYTES"], config["PHONE_SALT"])

    def dying_session() -> Session:
        """The first session lists the pending photos; the second, the switch, dies at commit."""
        opened = new_session(write=True)
        if len(opened_before) == 1:
            opened.commit = _killed  # type: ignore[method-assign]
        opened_before.append(opened)
        return opened

    opened_before: list[Session] = []
    with app.app_context(), pytest.raises(SystemExit):
        process_pending(dying_session, LocalStore(config["UPLOAD_DIR"]), limits, utcnow())
    assert _fresh(session).scalars(select(Attachment.status)).one() == "pending"
    assert original in _files(app)  # the original survives until the switch is committed
    assert "1 ready" in _process(app)
    ready = _fresh(session).scalars(select(Attachment)).one()
    files = _files(app)
    # The killed run's clean copy stays behind, unreferenced and already free of metadata.
    assert original not in files and ready.storage_key in files and len(files) == 2


def _killed() -> None:
    raise SystemExit("killed")
