"""Pick out, insert or update many rows at once, below the ORM: the sweep's batches.

PostgreSQL gets one statement per table, one array per column unnested by the server
(an executemany pays parameter handling per row). SQLite runs in-process, where the
driver's own executemany is cheap once values are already what the column stores;
SQLAlchemy's per-row bind processing cost more than SQLite's work (bench/sweep.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Integer,
    SQLColumnExpression,
    String,
    Table,
    any_,
    bindparam,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import ARRAY

# SQLite's statement parameter limit is 32,766; a multi-row VALUES stays well inside it.
_SQLITE_ROWS = 500
_JSON = json.JSONEncoder(ensure_ascii=False)  # as json.dumps(v, ensure_ascii=False), built once


def _naive_utc(value: datetime) -> datetime:
    """Return the naive UTC time a UTCDateTime column stores; refuse a naive one, as it does."""
    if value.tzinfo is UTC:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        raise ValueError("naive datetime: Kuaisu stores UTC and needs tz-aware values")
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_times(values: list[Any]) -> list[Any]:
    """Return the text SQLAlchemy's SQLite DATETIME stores, so bulk rows sort and read alike."""
    # A whole column in one comprehension: a function call per value cost more than the value.
    # isoformat of an aware UTC time ends in +00:00, cut off; strftime costs twice as much.
    return [
        None if v is None else (v if v.tzinfo is UTC else _naive_utc(v)).isoformat(" ", "microseconds")[:26]
        for v in values
    ]


def _naive_utcs(values: list[Any]) -> list[Any]:
    """Return the naive UTC times a UTCDateTime column stores (PostgreSQL)."""
    return [None if v is None else _naive_utc(v) for v in values]


def _json_texts(values: list[Any]) -> list[Any]:
    return [None if v is None else _JSON.encode(v) for v in values]


def _converter(table: Table, name: str, sqlite: bool) -> Callable[[list[Any]], list[Any]] | None:
    """Return how a column's values are handed to the driver (None: as they are)."""
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return _json_texts
    if isinstance(getattr(kind, "impl_instance", kind), DateTime):
        return _sqlite_times if sqlite else _naive_utcs
    return None


@lru_cache(maxsize=256)
def _converters(
    table: Table, names: tuple[str, ...], sqlite: bool
) -> tuple[Callable[[list[Any]], list[Any]] | None, ...]:
    return tuple(_converter(table, name, sqlite) for name in names)


def _columns(table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]], sqlite: bool) -> list[Any]:
    """Return one list of driver values per named column."""
    found = []
    for name, convert in zip(names, _converters(table, tuple(names), sqlite), strict=True):
        values = [row[name] for row in rows]
        found.append(values if convert is None else convert(values))
    return found


@lru_cache(maxsize=256)
def _insert_sql(
    dialect: Dialect, table: Table, names: tuple[str, ...], unique: str | None, returning: str | None
) -> tuple[str, str]:
    """Return an insert's head and tail, worked out once per table and column set."""
    quote = dialect.identifier_preparer.quote
    # Only the table's own column names (table.c[name] refuses others) enter the SQL text;
    # every value is a bound parameter.
    head = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))})"
    if dialect.name == "postgresql":
        head += f" SELECT * FROM {_arrays(dialect, table, names)}"  # noqa: S608
    tail = f" ON CONFLICT ({quote(unique)}) DO NOTHING" if unique is not None else ""
    tail += f" RETURNING {quote(returning)}" if returning is not None else ""
    return head, tail


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _quote(session: Session) -> Callable[[str], str]:
    quote: Callable[[str], str] = session.get_bind().dialect.identifier_preparer.quote
    return quote


def among(session: Session, column: SQLColumnExpression[int], ids: Collection[int]) -> ColumnElement[bool]:
    """Return `column IN ids`; on PostgreSQL as one array parameter.

    A thousand separate parameters cost PostgreSQL's planner more than the query itself:
    about 60 ms against 15 ms to read a batch's clocks (bench/sweep.py).
    """
    if _postgres(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def _arrays(dialect: Dialect, table: Table, names: Sequence[str]) -> str:
    """Return `unnest(CAST(%(a)b AS type[]), ...)` for the named columns.

    Binary parameters (%b): psycopg dumps a text array element by element through a
    regular expression, ten times slower than the binary format.
    """
    casts = (f"CAST(%({name})b AS {_array_type(table, name, dialect)}[])" for name in names)
    return f"unnest({', '.join(casts)})"


def _array_type(table: Table, name: str, dialect: Dialect) -> str:
    """Return a column's type for its array, without a length.

    An explicit cast to VARCHAR(n) cuts a longer value short without a word; cast to plain
    VARCHAR, the value meets the column's own length and a longer one is refused.
    """
    kind = table.c[name].type
    if isinstance(kind, String):
        return "VARCHAR"
    return str(kind.compile(dialect=dialect))


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
    connection, names = session.connection(), tuple(rows[0])
    head, tail = _insert_sql(connection.dialect, table, names, unique, returning)
    if _postgres(session):
        values = dict(zip(names, _columns(table, names, rows, sqlite=False), strict=True))
        result = connection.exec_driver_sql(head + tail, values)
        return list(result.scalars()) if returning is not None else []
    marks = f"({', '.join('?' * len(names))})"
    tuples = list(zip(*_columns(table, names, rows, sqlite=True), strict=True))
    if returning is None:
        connection.exec_driver_sql(f"{head} VALUES {marks}{tail}", tuples)
        return []
    # The driver's executemany drops RETURNING rows; many rows per VALUES keep them.
    found: list[Any] = []
    for start in range(0, len(tuples), _SQLITE_ROWS):
        chunk = tuples[start : start + _SQLITE_ROWS]
        flat = tuple(value for row in chunk for value in row)
        many = ", ".join([marks] * len(chunk))
        found += connection.exec_driver_sql(f"{head} VALUES {many}{tail}", flat).scalars().all()
    return found


def update_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, bump_version: bool = False
) -> None:
    """Update rows by id to the given values (each row names the same columns)."""
    if not rows:
        return
    names, quote = list(rows[0]), _quote(session)
    name = quote(table.name)
    columns = [column for column in names if column != "id"]
    if _postgres(session):
        sets = [f"{quote(column)} = v.{quote(column)}" for column in columns]
        if bump_version:
            sets.append(f"version = {name}.version + 1")
        values = dict(zip(names, _columns(table, names, rows, sqlite=False), strict=True))
        sql = (
            f"UPDATE {name} SET {', '.join(sets)} FROM {_arrays(session.get_bind().dialect, table, names)} "  # noqa: S608
            f"AS v({', '.join(map(quote, names))}) WHERE {name}.id = v.id"
        )
        session.connection().exec_driver_sql(sql, values)
        return
    sets = [f"{quote(column)} = ?" for column in columns]
    if bump_version:
        sets.append("version = version + 1")
    tuples = list(zip(*_columns(table, [*columns, "id"], rows, sqlite=True), strict=True))
    sql = f"UPDATE {name} SET {', '.join(sets)} WHERE id = ?"  # noqa: S608
    session.connection().exec_driver_sql(sql, tuples)
