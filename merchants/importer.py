"""Registering merchants from a file: upload, see every bad line, then confirm the import."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from merchants.access import current_staff, market_scope, roles
from merchants.blueprint import bp
from merchants.forms_posters import IMPORT_MAX_BYTES, ImportConfirmForm, ImportUploadForm
from portal.db import get_session, utcnow
from portal.import_files import (
    ImportFileError,
    RawRow,
    drop_upload,
    load_upload,
    read_register,
    stash_upload,
)
from portal.importer import ImportCheck, check_register, import_register
from portal.models import Market, User

IMPORT_ROLES = ("regulator", "admin")


def _bulk_dir() -> Path:
    """Return the folder where uploaded registers wait for confirmation."""
    return Path(current_app.config["BULK_DIR"])


def _check(user: User, rows: list[RawRow]) -> ImportCheck:
    """Check the rows against the markets this user may register merchants in."""
    session = get_session()
    markets = list(session.scalars(select(Market).where(market_scope(session, user))))
    # A regulator's merchants without a market belong to the regulator's own unit.
    return check_register(session, rows, markets=markets, default_unit_id=user.unit_id)


def _upload_page(form: ImportUploadForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    """Render the upload form."""
    return render_template("office/import.html", form=form, error=error), status


@bp.get("/merchants/import")
@roles(*IMPORT_ROLES)
def import_form() -> tuple[str, int]:
    """Offer the upload of a CSV or XLSX register of merchants."""
    return _upload_page(ImportUploadForm())


@bp.post("/merchants/import")
@roles(*IMPORT_ROLES)
def import_check() -> tuple[str, int]:
    """Check every row of the uploaded file and show the errors by line; import nothing yet."""
    form, user = ImportUploadForm(), current_staff()
    if not form.validate_on_submit():
        return _upload_page(form, status=400)
    upload = form.register.data
    data = upload.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        return _upload_page(form, _("The file is larger than 5 MB; split it."), 400)
    try:
        rows = read_register(upload.filename or "", data)
    except ImportFileError as exc:
        return _upload_page(form, _("The file cannot be read: %(reason)s", reason=str(exc)), 400)
    check = _check(user, rows)
    token = stash_upload(_bulk_dir(), user.id, upload.filename or "", data)
    confirm = ImportConfirmForm(upload=token)
    return render_template("office/import_check.html", check=check, rows=len(rows), confirm=confirm), 200


@bp.post("/merchants/import/confirm")
@roles(*IMPORT_ROLES)
def import_confirm() -> tuple[str, int]:
    """Import a checked file in one transaction: all rows, or only the valid ones if asked."""
    form, user = ImportConfirmForm(), current_staff()
    stashed = load_upload(_bulk_dir(), user.id, form.upload.data or "") if form.validate_on_submit() else None
    if stashed is None:
        return _upload_page(ImportUploadForm(), _("Upload the file again."), 400)
    rows = read_register(*stashed)
    check = _check(user, rows)
    if check.errors and not form.valid_only.data:
        return render_template("office/import_check.html", check=check, confirm=form, rows=len(rows)), 400
    session = get_session()
    created = import_register(session, check, valid_only=bool(form.valid_only.data), now=utcnow())
    session.commit()
    drop_upload(_bulk_dir(), user.id, form.upload.data or "")
    return render_template("office/import_done.html", check=check, created=created), 200
