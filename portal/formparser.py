"""Small multipart forms read by the `multipart` package instead of Werkzeug's own parser.

Werkzeug compiles two regular expressions for every request's boundary, which is most of the
1 ms it spends on a complaint form without photos; `multipart`'s push parser reads the same
form in under 0.1 ms. The result is the same: a MultiDict of text fields (decoded by the
part's charset, utf-8 by default, undecodable bytes replaced) and one of FileStorage uploads
made by the request's own stream factory. The limits stay Flask's: a text field over
MAX_FORM_MEMORY_SIZE or more parts than MAX_FORM_PARTS is a 413; a malformed body reads as
an empty form, as Werkzeug's silent parser does.

Only bodies up to 256 KiB take this path, read whole into memory; photo uploads, where the
photo costs far more than the parsing, stay with Werkzeug. A body `multipart` cannot read,
or one where a part's content starts with its own boundary, is read again by Werkzeug: an
empty part written without the line break before the next boundary (Werkzeug's own test
client writes empty fields so) makes `multipart` read on into the next part, and a real
client never puts the boundary inside content.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO, TYPE_CHECKING, Any

from flask import Request
from multipart import MultipartError, MultipartSegment, ParserLimitReached, PushMultipartParser
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

if TYPE_CHECKING:
    from werkzeug.formparser import t_parse_result as ParseResult

_CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1"})
_SMALL = 256 * 1024


class _Part:
    """One part being read: a text field collects bytes, a file writes to its container."""

    def __init__(self, segment: MultipartSegment, container: IO[bytes] | None) -> None:
        self.segment = segment
        self.container = container
        self.chunks: list[bytes] = []

    def write(self, data: bytes, limit: int | None) -> None:
        """Take a chunk of the part's body; a text field may not outgrow the memory limit."""
        if self.container is not None:
            self.container.write(data)
            return
        self.chunks.append(data)
        if limit is not None and self.segment.bytes_received > limit:
            raise RequestEntityTooLarge()

    def starts_with(self, prefix: bytes) -> bool:
        """Say whether the part's content begins with these bytes."""
        if self.container is None:
            return b"".join(self.chunks).startswith(prefix)
        self.container.seek(0)
        return self.container.read(len(prefix)) == prefix

    def text(self) -> str:
        """Decode a text field by its declared charset (utf-8 unless a safe one is named)."""
        charset = (self.segment.charset or "").lower()
        return b"".join(self.chunks).decode(charset if charset in _CHARSETS else "utf-8", "replace")

    def upload(self) -> FileStorage:
        """Hand the written file back, rewound, with the part's own headers."""
        assert self.container is not None
        self.container.seek(0)
        return FileStorage(
            self.container,
            self.segment.filename,
            self.segment.name,
            headers=Headers(self.segment.headerlist),
        )


class MultipartFormParser(FormDataParser):
    """Werkzeug's form parser with `multipart` reading multipart/form-data bodies."""

    def _parse_multipart(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> ParseResult:
        boundary = options.get("boundary", "")
        if not boundary:
            raise ValueError("Missing boundary")
        if content_length is None or content_length > _SMALL:
            return super()._parse_multipart(stream, mimetype, content_length, options)
        body = stream.read(content_length)
        try:
            fields, files = self._read(body, boundary, content_length)
        except ParserLimitReached as exc:
            raise RequestEntityTooLarge() from exc
        except MultipartError:
            fields = None
        if fields is None:
            return super()._parse_multipart(BytesIO(body), mimetype, len(body), options)
        return stream, self.cls(fields), self.cls(files)

    def _read(
        self, body: bytes, boundary: str, total: int
    ) -> tuple[list[tuple[str, Any]] | None, list[tuple[str, Any]]]:
        """Read the parts; no fields (None) when a part begins with the boundary itself."""
        delimiter = b"--" + boundary.encode("latin-1")
        fields: list[tuple[str, Any]] = []
        files: list[tuple[str, Any]] = []
        parser = PushMultipartParser(
            boundary,
            content_length=len(body),
            max_segment_count=self.max_form_parts or float("inf"),
        )
        part: _Part | None = None
        for event in parser.parse_blocking(BytesIO(body).read, len(body) or 1):
            if isinstance(event, MultipartSegment):
                part = _Part(event, self._container(event, total))
            elif event is not None and part is not None:
                part.write(event, self.max_form_memory_size)
            elif part is not None:
                if part.starts_with(delimiter):
                    return None, []
                name = part.segment.name or ""
                if part.container is None:
                    fields.append((name, part.text()))
                else:
                    files.append((name, part.upload()))
                part = None
        return fields, files

    def _container(self, segment: MultipartSegment, total: int | None) -> IO[bytes] | None:
        """Open the stream factory's container for a file part; a text field needs none."""
        if segment.filename is None:
            return None
        return self.stream_factory(
            total_content_length=total,
            content_type=segment.content_type,
            filename=segment.filename,
            content_length=0,
        )


class KuaisuRequest(Request):
    """Flask's request, reading multipart forms with MultipartFormParser."""

    form_data_parser_class = MultipartFormParser
