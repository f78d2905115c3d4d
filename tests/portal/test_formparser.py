"""The multipart parser reads forms as Werkzeug's does: fields, files, limits, broken bodies."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.formparser import MultiPartParser
from werkzeug.test import EnvironBuilder

from portal.formparser import KuaisuRequest

BOUNDARY = "----kuaisuTestBoundary7MA4YWxk"


def body(*parts: tuple[str, str], end: bool = True) -> bytes:
    """Join raw parts (headers, payload) the way a browser frames them."""
    chunks = [f"--{BOUNDARY}\r\n{headers}\r\n\r\n{payload}\r\n" for headers, payload in parts]
    return ("".join(chunks) + (f"--{BOUNDARY}--\r\n" if end else "")).encode()


def field(name: str, value: str) -> tuple[str, str]:
    """A text field part."""
    return f'Content-Disposition: form-data; name="{name}"', value


@pytest.fixture
def echo() -> Flask:
    """A bare app with Kuaisu's request class, echoing what it parsed."""
    app = Flask(__name__)
    app.request_class = KuaisuRequest
    app.config.update(MAX_FORM_MEMORY_SIZE=1000, MAX_FORM_PARTS=5)

    @app.post("/")
    def parsed() -> dict[str, Any]:
        files = {
            name: [[each.filename, each.read().decode(), each.content_type] for each in uploads]
            for name, uploads in request.files.lists()
        }
        return {"form": request.form.to_dict(flat=False), "files": files}

    return app


def post(app: Flask, data: bytes, boundary: str = BOUNDARY) -> Any:
    """Post a raw multipart body."""
    builder = EnvironBuilder(
        path="/",
        method="POST",
        data=data,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    return app.test_client().open(builder)


def test_fields_repeat_and_decode_as_utf8(echo: Flask) -> None:
    reply = post(echo, body(field("name", "李女士"), field("wish", "refund"), field("wish", "other")))
    assert reply.status_code == 200
    assert reply.json["form"] == {"name": ["李女士"], "wish": ["refund", "other"]}


def test_a_declared_latin1_field_is_decoded_by_its_charset(echo: Flask) -> None:
    raw = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n'
        f"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
    ).encode() + b"caf\xe9\r\n" + f"--{BOUNDARY}--\r\n".encode()
    assert post(echo, raw).json["form"] == {"a": ["café"]}


def test_undecodable_bytes_are_replaced_not_refused(echo: Flask) -> None:
    raw = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\n'.encode()
        + b"ok\xff\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )
    assert post(echo, raw).json["form"] == {"a": ["ok\ufffd"]}


def test_files_keep_their_name_payload_and_type_and_an_empty_file_input_is_a_file(
    echo: Flask,
) -> None:
    photo = (
        'Content-Disposition: form-data; name="photos"; filename="../../发票.jpg"\r\n'
        "Content-Type: image/jpeg",
        "not really a jpeg",
    )
    empty = ('Content-Disposition: form-data; name="photos"; filename=""\r\n'
             "Content-Type: application/octet-stream", "")
    reply = post(echo, body(field("kind", "complaint"), photo, empty))
    assert reply.json["form"] == {"kind": ["complaint"]}
    assert reply.json["files"] == {
        "photos": [
            ["../../发票.jpg", "not really a jpeg", "image/jpeg"],
            ["", "", "application/octet-stream"],
        ]
    }


def test_a_text_field_over_the_memory_limit_is_413(echo: Flask) -> None:
    assert post(echo, body(field("description", "x" * 1001))).status_code == 413
    assert post(echo, body(field("description", "x" * 1000))).status_code == 200


def test_more_parts_than_allowed_is_413(echo: Flask) -> None:
    assert post(echo, body(*(field(f"f{i}", "v") for i in range(6)))).status_code == 413
    assert post(echo, body(*(field(f"f{i}", "v") for i in range(5)))).status_code == 200


def test_a_file_may_be_larger_than_the_text_limit(echo: Flask) -> None:
    photo = ('Content-Disposition: form-data; name="photos"; filename="a.jpg"', "y" * 5000)
    reply = post(echo, body(photo))
    assert reply.status_code == 200
    assert reply.json["files"]["photos"][0][1] == "y" * 5000


@pytest.mark.parametrize(
    "raw",
    [
        body(field("a", "1"), end=False),
        b"no multipart framing at all",
        b"",
    ],
    ids=["cut-off", "garbage", "empty"],
)
def test_a_broken_body_reads_as_an_empty_form(echo: Flask, raw: bytes) -> None:
    reply = post(echo, raw)
    assert reply.status_code == 200
    assert reply.json == {"form": {}, "files": {}}


def test_a_missing_boundary_reads_as_an_empty_form(echo: Flask) -> None:
    builder = EnvironBuilder(path="/", method="POST", data=body(field("a", "1")),
                             content_type="multipart/form-data")
    reply = echo.test_client().open(builder)
    assert reply.json == {"form": {}, "files": {}}


def test_a_standard_small_form_is_read_without_werkzeugs_parser(
    echo: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("Werkzeug's parser was used")

    monkeypatch.setattr(MultiPartParser, "parse", refuse)
    empty_file = ('Content-Disposition: form-data; name="photos"; filename=""', "")
    reply = post(echo, body(field("website", ""), field("note", "line\r\n"), empty_file))
    assert reply.json["form"] == {"website": [""], "note": ["line\r\n"]}
    assert reply.json["files"] == {"photos": [["", "", None]]}


def test_werkzeugs_own_test_encoding_of_empty_parts_is_read_right(echo: Flask) -> None:
    # Werkzeug's test client leaves out the line break between an empty part and the next
    # boundary; Werkzeug's parser reads it, so the fallback must give the same fields.
    data = {"website": "", "kind": "complaint", "photos": (io.BytesIO(b""), "")}
    reply = echo.test_client().post("/", data=data, content_type="multipart/form-data")
    assert reply.json["form"] == {"website": [""], "kind": ["complaint"]}
    assert reply.json["files"] == {"photos": [["", "", "application/octet-stream"]]}


def test_a_large_body_is_read_by_werkzeug_with_the_same_result(echo: Flask) -> None:
    echo.config["MAX_FORM_MEMORY_SIZE"] = None
    big = ('Content-Disposition: form-data; name="photos"; filename="big.jpg"', "z" * 300_000)
    reply = post(echo, body(field("kind", "complaint"), big))
    assert reply.json["form"] == {"kind": ["complaint"]}
    assert len(reply.json["files"]["photos"][0][1]) == 300_000
