"""Open311 GeoReport v2 wire formats: JSON arrays and the XML the spec shows, errors included."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response

from portal.i18n import SHANGHAI

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def iso(moment: datetime | None) -> str | None:
    """Return ISO 8601 in Shanghai time with its offset, e.g. 2026-11-23T14:00:00+08:00."""
    if moment is None:
        return None
    return moment.astimezone(SHANGHAI).replace(microsecond=0).isoformat()


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    """Append one value: lists become repeated children, booleans the words true/false."""
    child = ET.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _xml_item(child, name.rstrip("s") or "value", item)
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _xml_value(child, key, inner)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def _xml_item(parent: ET.Element, tag: str, item: Any) -> None:
    """Append one record (a mapping) or a plain value under `tag`."""
    node = ET.SubElement(parent, tag)
    if isinstance(item, Mapping):
        for key, value in item.items():
            _xml_value(node, key, value)
    elif item is not None:
        node.text = str(item)


def xml_document(root: str, tag: str, items: Sequence[Mapping[str, Any]]) -> bytes:
    """Render records as <root><tag>…</tag>…</root> with an XML declaration."""
    element = ET.Element(root)
    for item in items:
        _xml_item(element, tag, item)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def render(fmt: str, root: str, tag: str, items: Sequence[Mapping[str, Any]], status: int = 200) -> Response:
    """Answer with the records as a JSON array or as the spec's XML."""
    if fmt == "xml":
        body = xml_document(root, tag, items)
    else:
        body = json.dumps(list(items), ensure_ascii=False).encode()
    return Response(body, status=status, content_type=MIMETYPES.get(fmt, MIMETYPES["json"]))


def error(fmt: str, code: int, description: str) -> Response:
    """Answer with the spec's error format: [{"code": 400, "description": "…"}] or <errors>."""
    return render(
        fmt if fmt in FORMATS else "json",
        "errors",
        "error",
        [{"code": code, "description": description}],
        status=code,
    )


def render_object(fmt: str, root: str, item: Mapping[str, Any]) -> Response:
    """Answer with one record: a JSON object, or <root>…</root> in XML."""
    if fmt == "xml":
        element = ET.Element(root)
        for key, value in item.items():
            _xml_value(element, key, value)
        body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    else:
        body = json.dumps(dict(item), ensure_ascii=False).encode()
    return Response(body, content_type=MIMETYPES.get(fmt, MIMETYPES["json"]))
