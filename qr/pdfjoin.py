"""Stream many small reportlab PDFs into one multi-page PDF without holding it in memory.

A reportlab Canvas keeps every page until save(), so bulk jobs draw a few dozen pages per
canvas and this writer appends each finished chunk to the output: its objects renumbered,
its page tree hung under one root. Only byte offsets are kept, 8 bytes per object.
"""

import re
from array import array
from typing import BinaryIO

_HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
_CATALOG, _ROOT_PAGES, _INFO = 1, 2, 3
_REFERENCE = re.compile(rb"(\d+) 0 R\b")
_OBJECT_START = re.compile(rb"(\d+) 0 obj\b")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")


class PdfJoiner:
    """Write a PDF to a stream, one appended chunk of pages at a time."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._written = 0
        # offsets[n] is where object n starts; object 0 is the free-list head.
        self._offsets = array("Q", [0, 0, 0, 0])
        self._kids: list[int] = []
        self._pages = 0
        self._write(_HEADER)

    @property
    def pages(self) -> int:
        """Return the number of pages appended so far."""
        return self._pages

    def append(self, pdf: bytes) -> int:
        """Append every page of a PDF written by reportlab; return its page count."""
        objects, root, info = _parse(pdf)
        pages_node = _reference(objects[root], rb"/Pages")
        kept = sorted(number for number in objects if number not in (root, info))
        renumber = {old: len(self._offsets) + i for i, old in enumerate(kept)}
        for old, new in renumber.items():
            body = objects[old]
            if old == pages_node:
                body = body.replace(b"<<", b"<< /Parent %d 0 R" % _ROOT_PAGES, 1)
            self._object(new, _renumber(body, renumber))
        self._kids.append(renumber[pages_node])
        count = int(_value(objects[pages_node], rb"/Count"))
        self._pages += count
        return count

    def close(self) -> None:
        """Write the page tree root, catalog, info and cross-reference table."""
        kids = b" ".join(b"%d 0 R" % kid for kid in self._kids)
        self._object(_ROOT_PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, self._pages))
        self._object(_CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % _ROOT_PAGES)
        self._object(_INFO, b"<< /Producer (Kuaisu) /Title (Kuaisu posters) >>")
        start = self._written
        lines = [b"xref\n0 %d\n" % len(self._offsets), b"0000000000 65535 f \n"]
        lines.extend(b"%010d 00000 n \n" % offset for offset in self._offsets[1:])
        self._write(b"".join(lines))
        trailer = b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        self._write(trailer % (len(self._offsets), _CATALOG, _INFO, start))

    def _object(self, number: int, body: bytes) -> None:
        """Write object `number` with the given body (dictionary, maybe a stream)."""
        if number == len(self._offsets):
            self._offsets.append(self._written)
        else:
            self._offsets[number] = self._written
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def _write(self, data: bytes) -> None:
        """Write bytes and count them: the output need not be seekable."""
        self._out.write(data)
        self._written += len(data)


def _parse(pdf: bytes) -> tuple[dict[int, bytes], int, int]:
    """Split a reportlab PDF into object bodies by number, with its catalog and info."""
    start = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])
    table, _, trailer = pdf[start:].partition(b"trailer")
    if not table.startswith(b"xref") or table.split()[1] != b"0":
        raise ValueError("expected one cross-reference section starting at object 0")
    located = sorted(
        (int(entry[1]), number)
        for number, entry in enumerate(_XREF_ENTRY.finditer(table))
        if entry[3] == b"n"
    )
    objects: dict[int, bytes] = {}
    for (offset, number), (end, _next) in zip(located, [*located[1:], (start, 0)], strict=True):
        chunk = pdf[offset:end]
        header = _OBJECT_START.match(chunk)
        if header is None or int(header[1]) != number:
            raise ValueError(f"object {number} is not where the cross-reference table says")
        body = chunk[header.end() : chunk.rindex(b"endobj")]
        objects[number] = body.strip(b"\r\n ")
    return objects, _reference(trailer, rb"/Root"), _reference(trailer, rb"/Info")


def _renumber(body: bytes, renumber: dict[int, int]) -> bytes:
    """Rewrite the indirect references in the dictionary part of an object."""
    # Stream data is binary: only the dictionary before "stream" holds references.
    dictionary, marker, data = body.partition(b"\nstream")
    rewritten = _REFERENCE.sub(lambda ref: b"%d 0 R" % renumber[int(ref[1])], dictionary)
    return rewritten + marker + data


def _reference(text: bytes, key: bytes) -> int:
    """Return the object number of the first `key N 0 R` in text."""
    return int(_value(text, key))


def _value(text: bytes, key: bytes) -> bytes:
    """Return the first token after key in a dictionary."""
    match = re.search(re.escape(key) + rb"\s+(\d+)", text)
    if match is None:
        raise ValueError(f"no {key.decode()} in {text[:80]!r}")
    return match[1]
