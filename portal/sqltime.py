"""Time arithmetic inside SQL that both SQLite and PostgreSQL understand the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# Asia/Shanghai has had no daylight saving since 1991: a fixed +8 h is exact.
SHANGHAI_OFFSET_HOURS = 8


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970 of a stored (naive UTC) timestamp."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    """Julian days to seconds: SQLite stores timestamps as ISO text."""
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _epoch_pg(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    """EXTRACT(EPOCH) of a timestamp without time zone counts it as UTC."""
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


class shanghai_day(FunctionElement[str]):
    """The Shanghai calendar day of a stored UTC timestamp, as 'YYYY-MM-DD' text."""

    type = String()
    inherit_cache = True
    name = "shanghai_day"


@compiles(shanghai_day, "sqlite")
def _day_sqlite(element: shanghai_day, compiler: SQLCompiler, **kw: Any) -> str:
    """date() shifted by eight hours."""
    return f"date({compiler.process(element.clauses, **kw)}, '+{SHANGHAI_OFFSET_HOURS} hours')"


@compiles(shanghai_day, "postgresql")
def _day_pg(element: shanghai_day, compiler: SQLCompiler, **kw: Any) -> str:
    """A date cast to text, so both databases hand back the same type."""
    arg = compiler.process(element.clauses, **kw)
    return f"to_char({arg} + INTERVAL '{SHANGHAI_OFFSET_HOURS} hours', 'YYYY-MM-DD')"
