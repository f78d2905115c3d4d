"""The typed declarative base, the engine and one session per app context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from portal import sqlite_turns

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WRITING = "kuaisu.writing"


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Store naive UTC, hand back aware UTC; refuse naive datetimes on the way in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Kuaisu stores UTC and needs tz-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to the stored value."""
        return None if value is None else value.replace(tzinfo=UTC)


def _sqlite_pragmas(engine: Engine, lock_timeout_ms: int) -> None:
    """Make SQLite durable and concurrent: WAL, FULL sync, busy timeout, explicit BEGIN.

    Writers also take turns before BEGIN IMMEDIATE (portal/sqlite_turns.py), so the write
    lock passes from one to the next without waiting out SQLite's busy-handler sleeps.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        sqlite_turns.attach(dbapi_connection, engine.url.database)
        # The driver's own implicit BEGIN would hide the lock mode; we issue it ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that later writes skips the busy handler and fails with
        # "database is locked"; writers take the lock up front (PITFALLS: SQLite).
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "DEFERRED":
            conn.connection.dbapi_connection.take_turn(lock_timeout_ms / 1000)
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, pooled: bool = True, lock_timeout_ms: int = 10_000) -> Engine:
    """Create an engine for the URL with the settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            hide_parameters=True,  # bound values hold phones; never in logs, even with echo
            connect_args={
                "timeout": lock_timeout_ms / 1000,
                "check_same_thread": False,
                "factory": sqlite_turns.TurnTakingConnection,
            },
            **({} if pooled else {"poolclass": NullPool}),
        )
        _sqlite_pragmas(engine, lock_timeout_ms)
        return engine
    # A request waiting on a lock longer than this gives up with a 503, not a hung worker.
    args = {"options": f"-c lock_timeout={int(lock_timeout_ms)}", "connect_timeout": 5}
    if not pooled:
        return create_engine(url, poolclass=NullPool, connect_args=args, hide_parameters=True)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=args,
                         hide_parameters=True)


def init_app(app: Flask) -> None:
    """Attach the engine and a session factory to the app; close sessions on teardown."""
    engine = make_engine(app.config["DATABASE_URL"],
                         lock_timeout_ms=int(app.config.get("DB_LOCK_TIMEOUT_MS", 10_000)))
    app.extensions["kuaisu.engine"] = engine
    app.extensions["kuaisu.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def get_engine() -> Engine:
    """Return the engine of the current app."""
    engine: Engine = current_app.extensions["kuaisu.engine"]
    return engine


def new_session(*, write: bool = False) -> Session:
    """Open a session outside the request cycle (CLI, jobs); the caller closes it."""
    factory: sessionmaker[Session] = current_app.extensions["kuaisu.sessionmaker"]
    session = factory()
    if write:
        begin_write(session)
    return session


def begin_write(session: Session) -> None:
    """Start the session's transaction holding SQLite's write lock up front."""
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    session.info[_WRITING] = True


def is_writing(session: Session) -> bool:
    """Say whether the session began its transaction as a writer (begin_write)."""
    return bool(session.info.get(_WRITING)) and session.in_transaction()


def get_session(*, begin: bool = True) -> Session:
    """Return the session of this app context; write requests begin with the write lock.

    With `begin=False` a new session starts no transaction yet: the caller does its work
    that needs no database first and calls begin_write itself, so the lock is held briefly.
    """
    if "db_session" not in g:
        write = begin and has_request_context() and request.method in _WRITE_METHODS
        g.db_session = new_session(write=write)
    session: Session = g.db_session
    return session


def utcnow() -> datetime:
    """Return the current time in UTC; only request boundaries call this, services take `now`."""
    # Only under TESTING may a test pin "now" for the pages (e.g. sweep later, then look).
    if has_app_context() and current_app.testing and current_app.config.get("KUAISU_FIXED_NOW"):
        fixed: datetime = current_app.config["KUAISU_FIXED_NOW"]
        return fixed
    return datetime.now(UTC)
