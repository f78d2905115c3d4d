"""Insert or update many rows at once: an executemany on SQLite, one statement on PostgreSQL.

On PostgreSQL an executemany of thousands of rows pays parameter handling per row; the
sweep's batches instead send one array per column, unnested by the server (4x faster in
bench/sweep.py). SQLite runs in-process, where executemany is already cheap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def _plain(table: Table, name: str, value: Any) -> Any:
    """Convert a value as the column's type would: naive UTC time, JSON as text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if value is not None and isinstance(table.c[name].type, JSON):
        return json.dumps(value, ensure_ascii=False)
    return value


def _arrays(session: Session, table: Table, names: Sequence[str]) -> str:
    """Return `unnest(CAST(:a AS type[]), ...)` for the named columns."""
    dialect = session.get_bind().dialect
    casts = (f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names)
    return f"unnest({', '.join(casts)})"


def _params(table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Return one list of values per column."""
    return {name: [_plain(table, name, row[name]) for row in rows] for name in names}


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    unique: str | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Insert the rows (skipping any that clash on `unique`); return the `returning` column."""
    if not rows:
        return []
    if not _postgres(session):
        statement = insert(table)
        if unique is not None:
            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=[unique])
        if returning is None:
            session.execute(statement, list(rows))
            return []
        return list(session.scalars(statement.returning(table.c[returning]), list(rows)))
    names = list(rows[0])
    quote = session.get_bind().dialect.identifier_preparer.quote
    # Only the table's own column names (table.c[name] refuses others) enter the SQL text;
    # every value is a bound parameter.
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) "  # noqa: S608
        f"SELECT * FROM {_arrays(session, table, names)}"
    )
    if unique is not None:
        sql += f" ON CONFLICT ({quote(unique)}) DO NOTHING"
    if returning is not None:
        sql += f" RETURNING {quote(returning)}"
    result = session.execute(text(sql), _params(table, names, rows))
    return list(result.scalars()) if returning is not None else []


def update_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, bump_version: bool = False
) -> None:
    """Update rows by id to the given values (each row names the same columns)."""
    if not rows:
        return
    names = list(rows[0])
    if not _postgres(session):
        values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in names if name != "id"}
        if bump_version:
            values["version"] = table.c.version + 1
        session.execute(
            update(table).where(table.c.id == bindparam("v_id")).values(values),
            [{f"v_{name}": value for name, value in row.items()} for row in rows],
        )
        return
    quote = session.get_bind().dialect.identifier_preparer.quote
    name = quote(table.name)
    sets = [f"{quote(column)} = v.{quote(column)}" for column in names if column != "id"]
    if bump_version:
        sets.append(f"version = {name}.version + 1")
    sql = (
        f"UPDATE {name} SET {', '.join(sets)} FROM {_arrays(session, table, names)} "  # noqa: S608
        f"AS v({', '.join(map(quote, names))}) WHERE {name}.id = v.id"
    )
    session.execute(text(sql), _params(table, names, rows))
