"""Photos through the real form: stored clean under server-made names, served by token only."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_app
from portal.models import Attachment, Complaint, Event
from tests.factories import Factory, complaint_form, image_bytes

KEY = re.compile(r"^[0-9a-f]{32}\.jpg$")


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


def _sideways_jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 42.0)
    return image_bytes("JPEG", (64, 48), exif=exif, comment=b"home of Li, secret", quality=95)


def _post(client: FlaskClient, code: str, files: list[tuple[bytes, str]], query: str = "") -> Any:
    photos = [(io.BytesIO(raw), name) for raw, name in files]
    return client.post(
        f"/c/{code}{query}", data={**complaint_form(), "photos": photos}, content_type="multipart/form-data"
    )


def _case(session: Session) -> Complaint:
    session.rollback()
    return session.scalars(select(Complaint)).one()


def test_photos_are_stored_under_server_names_and_served_by_token(
    app: Flask, client: FlaskClient, factory: Factory, session: Session, tmp_path: Path
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    response = _post(
        client,
        code,
        [
            (_sideways_jpeg_with_gps(), "../../x.jpg"),
            (image_bytes("PNG"), "发票.jpg"),
            (image_bytes("WEBP"), ""),
        ],
    )
    assert response.status_code == 303
    receipt = response.headers["Location"].split("?")[0]
    complaint = _case(session)
    attachments = session.scalars(select(Attachment).order_by(Attachment.id)).all()
    # The third file had no name: a browser sends that for an empty file input; it is skipped.
    assert len(attachments) == 2
    upload_dir = Path(app.config["UPLOAD_DIR"])
    stored = sorted(p for p in upload_dir.rglob("*") if p.is_file())
    assert len(stored) == 2 and all(KEY.match(p.name) for p in stored)
    assert {a.storage_key for a in attachments} == {p.name for p in stored}
    assert not list(tmp_path.rglob("x.jpg")) and not list(tmp_path.rglob("发票*"))
    assert not list(tmp_path.parent.glob("x.jpg"))

    first = client.get(f"{receipt}/photos/{attachments[0].id}")
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert "no-store" in first.headers["Cache-Control"]
    image = Image.open(io.BytesIO(first.data))
    assert image.size == (48, 64)  # upright
    assert b"Exif" not in first.data and b"secret" not in first.data and not image.getexif()
    assert (
        first.data == (upload_dir / attachments[0].storage_key[:2] / attachments[0].storage_key).read_bytes()
    )
    page = client.get(receipt).get_data(as_text=True)
    assert f"{receipt}/photos/{attachments[0].id}" in page
    assert "../../x.jpg" not in page and "发票" not in page
    events = session.scalars(select(Event).where(Event.complaint_id == complaint.id)).all()
    assert [e.kind for e in events] == ["submitted"] and events[0].data["photos"] == 2


def test_photos_need_the_right_token(client: FlaskClient, factory: Factory, session: Session) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    mine = _post(client, code, [(image_bytes(), "a.jpg")]).headers["Location"].split("?")[0]
    theirs = _post(client, code, [(image_bytes(), "b.jpg")]).headers["Location"].split("?")[0]
    session.rollback()
    ids = [a.id for a in session.scalars(select(Attachment).order_by(Attachment.id))]
    assert client.get(f"{mine}/photos/{ids[0]}").status_code == 200
    assert client.get(f"{mine}/photos/{ids[1]}").status_code == 404  # another case's photo
    assert client.get(f"/t/{'A' * 32}/photos/{ids[0]}").status_code == 404
    assert client.get(f"{theirs}/photos/999999").status_code == 404
    key = session.scalars(select(Attachment.storage_key)).first()
    for guess in (f"/uploads/{key}", f"/static/{key}", f"/{key}"):
        assert client.get(guess).status_code == 404


def test_one_bad_photo_keeps_the_case_and_says_which_and_why(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    files = [
        (image_bytes(), "good.jpg"),
        (b"GIF89a not really a photo", "bad.jpg"),
        (image_bytes("PNG"), "good.png"),
        (image_bytes("GIF"), "anim.gif"),
    ]
    response = _post(client, code, files, query="?lang=en")
    assert response.status_code == 303
    complaint = _case(session)
    assert len(session.scalars(select(Attachment)).all()) == 2
    problems = session.scalars(
        select(Event).where(Event.kind == "photo_not_stored").order_by(Event.seq)
    ).all()
    assert [e.data for e in problems] == [
        {"photo": 2, "reason": "The file is not a JPEG, PNG or WebP photo."},
        {"photo": 4, "reason": "The file is not a JPEG, PNG or WebP photo."},
    ]
    assert all(e.public for e in problems) and complaint.description
    receipt = response.headers["Location"]
    english = html.unescape(client.get(receipt + "&lang=en").get_data(as_text=True))
    assert "Photo 2 was not accepted: The file is not a JPEG, PNG or WebP photo." in english
    assert "Photo 4 was not accepted" in english
    chinese = client.get(receipt + "&lang=zh").get_data(as_text=True)
    assert re.search(r"第 2 张照片未能接收：\s*文件不是 JPEG、PNG 或 WebP 格式的照片。", chinese)


def test_failing_disk_keeps_the_case_and_records_the_fact(
    app_config: dict[str, Any], factory: Factory, session: Session, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("the upload dir is a file: every write fails")
    app = create_app({**app_config, "UPLOAD_DIR": str(blocker)})
    client = app.test_client()
    code = factory.poster_of(factory.make_merchant()).code
    response = _post(client, code, [(image_bytes(), "a.jpg"), (image_bytes("PNG"), "b.png")])
    assert response.status_code == 303
    complaint = _case(session)
    assert session.scalars(select(Attachment)).all() == []
    events = session.scalars(
        select(Event).where(Event.complaint_id == complaint.id).order_by(Event.seq)
    ).all()
    assert [(e.kind, e.data) for e in events] == [
        ("submitted", events[0].data),
        ("photo_not_stored", {"photo": 1, "reason": "storage"}),
        ("photo_not_stored", {"photo": 2, "reason": "storage"}),
    ]
    assert events[0].data["photos"] == 0
    page = client.get(response.headers["Location"] + "&lang=en").get_data(as_text=True)
    app.extensions["kuaisu.engine"].dispose()
    assert "it could not be saved" in page


def test_disk_failing_midway_stores_the_rest(
    client: FlaskClient, factory: Factory, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.storage import LocalStore

    real_put = LocalStore.put
    calls = {"n": 0}

    def flaky_put(self: LocalStore, key: str, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_put(self, key, data)

    monkeypatch.setattr(LocalStore, "put", flaky_put)
    code = factory.poster_of(factory.make_merchant()).code
    files = [(image_bytes(), "1.jpg"), (image_bytes(), "2.jpg"), (image_bytes(), "3.jpg")]
    assert _post(client, code, files).status_code == 303
    complaint = _case(session)
    assert len(session.scalars(select(Attachment)).all()) == 2
    kinds = [
        (e.kind, (e.data or {}).get("photo"))
        for e in session.scalars(select(Event).where(Event.complaint_id == complaint.id).order_by(Event.seq))
    ]
    assert kinds == [("submitted", None), ("photo_not_stored", 2)]


def test_photos_added_later_go_through_the_same_checks(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    code = factory.poster_of(factory.make_merchant()).code
    receipt = _post(client, code, []).headers["Location"].split("?")[0]
    response = client.post(
        f"{receipt}/info",
        data={
            "message": "补充两张照片。",
            "photos": [
                (io.BytesIO(_sideways_jpeg_with_gps()), "x.jpg"),
                (io.BytesIO(b"%PDF-1.4"), "invoice.jpg"),
            ],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    session.rollback()
    attachment = session.scalars(select(Attachment)).one()
    served = client.get(f"{receipt}/photos/{attachment.id}")
    assert Image.open(io.BytesIO(served.data)).size == (48, 64) and b"Exif" not in served.data
    problems = session.scalars(select(Event).where(Event.kind == "photo_not_stored")).all()
    assert [e.data for e in problems] == [
        {"photo": 2, "reason": "The file is not a JPEG, PNG or WebP photo."}
    ]
