"""`kuaisu translate`: extract msgids, merge translations, compile catalogues."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

import click
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from portal import ROOT
from portal.i18n import TRANSLATIONS, compile_catalogues

PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS: dict[str, Any] = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                           "_l": None, "N_": None}
METHODS = [("portal/**.py", "python"), ("merchants/**.py", "python"),
           ("templates/**.html", "jinja2")]


def _read() -> Catalog:
    """Read the Chinese catalogue, or start an empty one."""
    if not PO.exists():
        return Catalog(locale="zh_Hans_CN", project="kuaisu")
    with PO.open("rb") as handle:
        return read_po(handle, locale="zh_Hans_CN")


def _write(catalog: Catalog) -> None:
    """Write the catalogue sorted, so diffs stay small."""
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as handle:
        write_po(handle, catalog, sort_output=True, width=100, omit_header=False)


@click.group()
def translate() -> None:
    """Translation commands."""


@translate.command("update")
def update() -> None:
    """Extract every msgid from the code and templates and merge them into the catalogue."""
    template = Catalog(project="kuaisu")
    for filename, lineno, msgid, _comments, context in extract_from_dir(
        str(ROOT), method_map=METHODS, keywords=KEYWORDS
    ):
        template.add(msgid, locations=[(filename, lineno)], context=context)
    with _locked():
        catalog = _read()
        catalog.update(template, no_fuzzy_matching=True)
        _write(catalog)
    missing = [m.id for m in catalog if m.id and not m.string]
    click.echo(f"{len(catalog)} messages, {len(missing)} untranslated")
    for untranslated in missing:
        click.echo(f"  {untranslated!r}")


@translate.command("add")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def add(source: Path) -> None:
    """Merge a JSON object {msgid: translation} into the catalogue."""
    pairs: dict[str, str] = json.loads(source.read_text(encoding="utf-8"))
    with _locked():
        catalog = _read()
        for msgid, text in pairs.items():
            existing = catalog.get(msgid)
            if existing is None:
                catalog.add(msgid, text)
            else:
                existing.string = text
                existing.flags.discard("fuzzy")
        _write(catalog)
    click.echo(f"merged {len(pairs)} translations")


@translate.command("compile")
def compile_() -> None:
    """Compile the catalogues to .mo files."""
    compile_catalogues()


class _locked:
    """Hold an exclusive lock on the catalogue while several people edit it."""

    def __enter__(self) -> None:
        PO.parent.mkdir(parents=True, exist_ok=True)
        self.handle = (PO.parent / ".lock").open("w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
